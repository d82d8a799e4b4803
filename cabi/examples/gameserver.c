/* gameserver.c: a game server's life with libcassnet.
 *
 *   init -> label -> ready -> allocated for a match -> two players join ->
 *   one is banned mid-session and kicked -> publish/subscribe -> metrics ->
 *   back to the pool -> shutdown
 *
 * A matchmaker allocates servers with POST /v1/tenants/{tenant}/allocations
 * (selectors on the labels set here); this example allocates itself
 * (cn_allocate) so that it runs alone.
 *
 * Build:  make cabi && gcc -Icabi/include -o gameserver cabi/examples/gameserver.c \
 *             -Lbin/cabi -lcassnet -lpthread -Wl,-rpath,bin/cabi
 * Run:    CN_NODE=127.0.0.1:7949 CN_KEY=cnk_... CN_TOKEN_BOB=... CN_TOKEN_CAROL=... ./gameserver
 * Midway it prints "BAN carol" and waits for a line on stdin: ban carol
 * through the REST API of any node, then press enter.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cassnet.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int kicks, messages, allocated;

/* Runs on a library thread: only record, and let the game loop act. */
static void on_event(const cn_event *ev, void *user_data) {
    (void)user_data;
    if (ev->kind == CN_EVENT_KICK) {
        printf("event: kick %s (%s)\n", ev->player_id, ev->reason);
        pthread_mutex_lock(&mu);
        kicks++;
        pthread_mutex_unlock(&mu);
    } else if (ev->kind == CN_EVENT_ALLOCATED) {
        printf("event: allocated (%s)\n", ev->allocation_id);
        pthread_mutex_lock(&mu);
        allocated++;
        pthread_mutex_unlock(&mu);
    } else if (ev->kind == CN_EVENT_DRAIN) {
        printf("event: drain\n");
    } else if (ev->kind == CN_EVENT_DISCONNECTED) {
        printf("event: link to the node lost; answers may be stale\n");
    }
}

static void on_message(const char *topic, const char *id, const uint8_t *payload, size_t len, void *user_data) {
    (void)id; (void)user_data;
    printf("message on %s: %.*s\n", topic, (int)len, (const char *)payload);
    pthread_mutex_lock(&mu);
    messages++;
    pthread_mutex_unlock(&mu);
}

static int count(int *v) {
    pthread_mutex_lock(&mu);
    int n = *v;
    pthread_mutex_unlock(&mu);
    return n;
}

static void die(cn_handle h, const char *what, cn_status st) {
    char *msg = NULL;
    cn_last_error(h, &msg);
    fprintf(stdout, "%s failed: status %d: %s\n", what, st, msg ? msg : "");
    cn_free(msg);
    exit(1);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    cn_config cfg = {0};
    cfg.node_address = getenv("CN_NODE");
    cfg.api_key = getenv("CN_KEY");
    cfg.server_id = "example-1";
    cfg.address = "203.0.113.7";
    cfg.game_port = 7777;
    cfg.capacity = 16;

    cn_handle h = 0;
    cn_status st = cn_init(&cfg, &h);
    if (st != CN_OK) die(0, "cn_init", st);
    cn_set_event_callback(h, on_event, NULL);
    cn_server_session ss;
    cn_get_server_session(h, &ss);
    printf("registered %s on node %s (tenant %s)\n", ss.server_id, ss.node, ss.tenant_id);
    if ((st = cn_set_label(h, "mode", "ctf")) != CN_OK) die(h, "cn_set_label", st);
    if ((st = cn_ready(h)) != CN_OK) die(h, "cn_ready", st);

    /* Wait for a match. A matchmaker's allocation would carry annotations
     * (cn_get_annotation(h, "map", &value)); a self-allocation has none. */
    if ((st = cn_allocate(h)) != CN_OK) die(h, "cn_allocate", st);
    for (int i = 0; i < 100 && count(&allocated) == 0; i++) usleep(20000);
    if (count(&allocated) == 0) die(h, "wait for CN_EVENT_ALLOCATED", CN_ERR_INTERNAL);

    const char *tokens[2] = {getenv("CN_TOKEN_BOB"), getenv("CN_TOKEN_CAROL")};
    for (int i = 0; i < 2; i++) {
        cn_player p;
        if ((st = cn_authenticate(h, tokens[i], &p)) != CN_OK) die(h, "cn_authenticate", st);
        printf("player %s joined\n", p.player_id);
    }

    printf("BAN carol\n");
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 1;
    for (int i = 0; i < 100 && count(&kicks) == 0; i++) usleep(20000);
    int banned = 0;
    cn_is_banned(h, "carol", &banned);
    if (count(&kicks) == 0 || !banned) die(h, "kick carol", CN_ERR_INTERNAL);
    cn_player_disconnect(h, "carol");
    printf("carol kicked\n");

    cn_subscribe(h, "example.chat", on_message, NULL);
    for (int i = 0; i < 100 && count(&messages) == 0; i++) {
        cn_publish(h, "example.chat", "gg", 2);
        usleep(100000);
    }
    if (count(&messages) == 0) die(h, "pub/sub", CN_ERR_INTERNAL);

    if ((st = cn_send_metric(h, "players", 1, "map=dust")) != CN_OK) die(h, "cn_send_metric", st);
    if ((st = cn_ready(h)) != CN_OK) die(h, "cn_ready after the match", st); /* back to the pool */
    cn_set_state(h, CN_STATE_DRAINING);
    cn_player_disconnect(h, "bob");
    if ((st = cn_shutdown(h)) != CN_OK) die(0, "cn_shutdown", st);
    printf("shut down cleanly\n");
    return 0;
}
