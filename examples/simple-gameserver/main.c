/* simple-gameserver: a fleet server on libcassnet, like Agones'
 * simple-game-server. It needs no configuration of its own: the node's
 * supervisor gives it CN_NODE, CN_KEY, CN_SERVER_ID, CN_PROJECT, CN_FLEET
 * and CN_PORT_GAME (docs/supervisor.md#the-environment-contract).
 *
 * It registers from its environment, goes ready, and answers UDP datagrams
 * on its game port:
 *   "JOIN <player>"  -> "KICKED <player>" if the player is banned (checked
 *                       by the library's ban cache), else "WELCOME <player>"
 *   "EXIT"           -> "BYE", then the match is over: cn_shutdown, exit 0
 *   anything else    -> "ECHO <datagram>"
 * It also ends (cn_shutdown, exit 0) on SIGTERM, when the node drains the
 * server, or when the node leaves. A kick event for a joined player
 * (banned mid-match) is printed.
 *
 * Build: make example-gameserver  (bin/cabi/simple-gameserver)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cassnet.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

/* Runs on a library thread: print and set a flag, the loop acts. */
static void on_event(const cn_event *ev, void *user_data) {
    (void)user_data;
    switch (ev->kind) {
    case CN_EVENT_KICK:
        printf("kick %s (%s)\n", ev->player_id, ev->reason);
        break;
    case CN_EVENT_DRAIN:
    case CN_EVENT_NODE_LEAVING:
        printf("told to stop (event %d)\n", (int)ev->kind);
        stop_requested = 1;
        break;
    case CN_EVENT_ALLOCATED:
        printf("allocated %s\n", ev->allocation_id);
        break;
    default:
        break;
    }
}

static void fail(cn_handle h, const char *what, cn_status st) {
    char *msg = NULL;
    cn_last_error(h, &msg);
    fprintf(stderr, "%s: status %d: %s\n", what, (int)st, msg ? msg : "");
    cn_free(msg);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    uint32_t port = 0;
    cn_status st = cn_port("game", &port);
    if (st != CN_OK) {
        fprintf(stderr, "no game port: CN_PORT_GAME (status %d)\n", (int)st);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons((uint16_t)port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "bind udp %u: %s\n", port, strerror(errno));
        return 2;
    }
    struct timeval tv = {0, 200 * 1000}; /* wake up to notice stop_requested */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    cn_config cfg = {0}; /* everything from the environment */
    cfg.capacity = 16;
    cn_handle h = 0;
    if ((st = cn_init(&cfg, &h)) != CN_OK) {
        fail(0, "cn_init", st);
        return 1;
    }
    cn_set_event_callback(h, on_event, NULL);
    if ((st = cn_ready(h)) != CN_OK) {
        fail(h, "cn_ready", st);
        cn_shutdown(h);
        return 1;
    }
    cn_server_session ss;
    cn_get_server_session(h, &ss);
    printf("READY server=%s project=%s node=%s udp=%u\n", ss.server_id, ss.project_id, ss.node, port);

    char buf[1500], reply[1600];
    while (!stop_requested) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            continue; /* timeout or EINTR: check stop_requested */
        }
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }
        buf[n] = 0;
        int done = 0;
        if (strncmp(buf, "JOIN ", 5) == 0 && buf[5]) {
            int banned = 0;
            st = cn_is_banned(h, buf + 5, &banned);
            if (st != CN_OK && st != CN_STALE) {
                snprintf(reply, sizeof reply, "ERROR %d", (int)st);
            } else {
                snprintf(reply, sizeof reply, "%s %s", banned ? "KICKED" : "WELCOME", buf + 5);
            }
            printf("%s\n", reply);
        } else if (strcmp(buf, "EXIT") == 0) {
            snprintf(reply, sizeof reply, "BYE");
            done = 1;
        } else {
            snprintf(reply, sizeof reply, "ECHO %s", buf);
        }
        sendto(fd, reply, strlen(reply), 0, (struct sockaddr *)&from, flen);
        if (done) {
            printf("match over\n");
            break;
        }
    }
    close(fd);
    if ((st = cn_shutdown(h)) != CN_OK) {
        fprintf(stderr, "cn_shutdown: status %d\n", (int)st);
        return 1;
    }
    printf("shut down cleanly\n");
    return 0;
}
