/* cn_alloc: the allocation proof's game servers, run by alloc_test.go.
 * It registers CN_SERVERS servers through libcassnet, spread round-robin
 * over the nodes in CN_NODES ("host:port,host:port,..."), labels the first
 * half mode=ctf and the rest mode=dm, marks them ready and prints
 * "READY". On "GO" it prints every CN_EVENT_ALLOCATED as
 * "ALLOCATED <server> <allocation id> <unix ms>" for CN_WATCH_MS, prints
 * "WATCHED" and, on the next "GO", shuts every server down and prints
 * "PASS". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cassnet.h"

#define MAX_SERVERS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char ids[MAX_SERVERS][32];

static long long unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_event(const cn_event *ev, void *ud) {
    if (ev->kind != CN_EVENT_ALLOCATED) return;
    long long t = unix_ms();
    pthread_mutex_lock(&mu);
    printf("ALLOCATED %s %s %lld\n", (const char *)ud, ev->allocation_id, t);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
}

static void fail(cn_handle h, const char *what, cn_status st) {
    char *msg = NULL;
    cn_last_error(h, &msg);
    printf("FAIL %s: status %d: %s\n", what, st, msg ? msg : "");
    cn_free(msg);
    exit(1);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *key = getenv("CN_KEY"), *nodes_env = getenv("CN_NODES");
    int n = getenv("CN_SERVERS") ? atoi(getenv("CN_SERVERS")) : 30;
    int watch_ms = getenv("CN_WATCH_MS") ? atoi(getenv("CN_WATCH_MS")) : 2000;
    if (!key || !nodes_env || n <= 0 || n > MAX_SERVERS) {
        printf("FAIL environment: CN_KEY, CN_NODES and 1..%d CN_SERVERS are required\n", MAX_SERVERS);
        return 1;
    }
    char nodes_buf[1024], *nodes[16];
    int nn = 0;
    snprintf(nodes_buf, sizeof nodes_buf, "%s", nodes_env);
    for (char *save = NULL, *tok = strtok_r(nodes_buf, ",", &save); tok && nn < 16; tok = strtok_r(NULL, ",", &save)) nodes[nn++] = tok;

    cn_handle hs[MAX_SERVERS] = {0};
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-%02d", i < n / 2 ? "ctf" : "dm", i);
        cn_config cfg = {0};
        cfg.node_address = nodes[i % nn];
        cfg.api_key = key;
        cfg.server_id = ids[i];
        cfg.project_id = getenv("CN_PROJECT");
        cfg.address = "203.0.113.7";
        cfg.game_port = (uint32_t)(7000 + i);
        cfg.capacity = 16;
        cn_status st = cn_init(&cfg, &hs[i]);
        if (st != CN_OK) fail(0, "cn_init", st);
        if ((st = cn_set_event_callback(hs[i], on_event, ids[i])) != CN_OK) fail(hs[i], "cn_set_event_callback", st);
        if ((st = cn_set_label(hs[i], "mode", i < n / 2 ? "ctf" : "dm")) != CN_OK) fail(hs[i], "cn_set_label", st);
        if ((st = cn_ready(hs[i])) != CN_OK) fail(hs[i], "cn_ready", st);
    }
    printf("READY\n");
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 1;
    usleep((useconds_t)watch_ms * 1000);
    printf("WATCHED\n");
    if (!fgets(line, sizeof line, stdin)) return 1;
    for (int i = 0; i < n; i++) {
        cn_status st = cn_shutdown(hs[i]);
        if (st != CN_OK) fail(0, "cn_shutdown", st);
    }
    printf("PASS\n");
    return 0;
}
