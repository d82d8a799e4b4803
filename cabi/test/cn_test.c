/* cn_test: the C ABI test, run by cabi_test.go against a real node.
 * Environment: CN_NODE, CN_KEY (game-server), CN_READONLY_KEY, CN_ALICE (a
 * player id), CN_TOKEN_ALICE, CN_TOKEN_BOB, CN_TOKEN_BANNED, CN_TOKEN_EXPIRED,
 * CN_BANNED_PLAYER, CN_SERVER_ID, and CN_BENCH=1 for the benchmarks. It talks to the test on stdout/stdin:
 * "BAN <player>", "ALLOCATE <server>", "DRAIN <server>", "CHECK_METRICS",
 * "KILL_NODE" and "RESTART_NODE" wait for a "GO" line. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cassnet.h"

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); fflush(stdout); failures++; } } while (0)
#define EXPECT(call, want) do { cn_status st_ = (call); CHECK(st_ == (want), "%s = %d, want %d", #call, st_, want); } while (0)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char kicked[256], kick_reason[64];
static int messages;
static char last_message[256];

static int disconnects, reconnects, drains, allocations;
static char allocation_id[256];

static void on_event(const cn_event *ev, void *ud) {
    (void)ud;
    pthread_mutex_lock(&mu);
    if (ev->kind == CN_EVENT_DISCONNECTED) disconnects++;
    if (ev->kind == CN_EVENT_RECONNECTED) reconnects++;
    if (ev->kind == CN_EVENT_DRAIN) drains++;
    if (ev->kind == CN_EVENT_ALLOCATED) {
        allocations++;
        snprintf(allocation_id, sizeof allocation_id, "%s", ev->allocation_id);
    }
    if (ev->kind == CN_EVENT_KICK) {
        snprintf(kicked, sizeof kicked, "%s", ev->player_id);
        snprintf(kick_reason, sizeof kick_reason, "%s", ev->reason);
    }
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static void on_message(const char *topic, const char *id, const uint8_t *p, size_t n, void *ud) {
    (void)topic; (void)id;
    CHECK(ud == (void *)&messages, "user_data not passed through");
    pthread_mutex_lock(&mu);
    messages++;
    snprintf(last_message, sizeof last_message, "%.*s", (int)n, (const char *)p);
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) { ts->tv_sec++; ts->tv_nsec -= 1000000000L; }
}

static void deadline_in(struct timespec *ts, int ms);

/* wait_event waits up to ms for *counter to become non-zero. */
static void wait_count(int *counter, int n, int ms) {
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&mu);
    while (*counter < n) {
        if (pthread_cond_timedwait(&cond, &mu, &ts) != 0) break;
    }
    pthread_mutex_unlock(&mu);
}

static void wait_event(int *counter, int ms) { wait_count(counter, 1, ms); }

static void wait_go(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) { printf("FAIL: no GO\n"); exit(1); }
}

static const char *env(const char *k) {
    const char *v = getenv(k);
    if (!v) { printf("FAIL: %s not set\n", k); exit(2); }
    return v;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    cn_handle h = 0;
    char *msg = NULL;
    int banned = -1;

    /* Bad input is a status, never a crash. */
    EXPECT(cn_init(NULL, &h), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_is_banned(12345, "p", &banned), CN_ERR_UNKNOWN_HANDLE);
    EXPECT(cn_ready(0), CN_ERR_UNKNOWN_HANDLE);
    EXPECT(cn_last_error(0, NULL), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_free(NULL), CN_OK);

    cn_config cfg = {0};
    cfg.node_address = env("CN_NODE");
    const char *alice = env("CN_ALICE");
    cfg.server_id = env("CN_SERVER_ID");
    cfg.capacity = 8;
    cfg.game_port = 7777;
    /* A NULL api_key is read from CN_KEY (revision 3): without it, no key. */
    char *key = strdup(env("CN_KEY"));
    unsetenv("CN_KEY");
    EXPECT(cn_init(&cfg, &h), CN_ERR_INVALID_ARGUMENT); /* no api_key */
    setenv("CN_KEY", key, 1);
    free(key);
    /* cn_port reads CN_PORT_<NAME> (revision 3). */
    uint32_t port = 0;
    setenv("CN_PORT_QUERY_PORT", "7101", 1);
    EXPECT(cn_port("query-port", &port), CN_OK);
    CHECK(port == 7101, "cn_port: %u", port);
    setenv("CN_PORT_QUERY_PORT", "70000", 1);
    EXPECT(cn_port("query-port", &port), CN_ERR_INVALID_ARGUMENT);
    unsetenv("CN_PORT_QUERY_PORT");
    EXPECT(cn_port("query-port", &port), CN_ERR_NOT_FOUND);
    EXPECT(cn_port(NULL, &port), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_port("game", NULL), CN_ERR_INVALID_ARGUMENT);
    cfg.api_key = "cnk_garbage";
    EXPECT(cn_init(&cfg, &h), CN_ERR_UNAUTHENTICATED);
    cfg.api_key = env("CN_READONLY_KEY");
    EXPECT(cn_init(&cfg, &h), CN_ERR_PERMISSION_DENIED);
    EXPECT(cn_last_error(0, &msg), CN_OK);
    CHECK(msg && strlen(msg) > 0, "no init error message");
    cn_free(msg);

    cfg.api_key = env("CN_KEY");
    EXPECT(cn_init(&cfg, &h), CN_OK);
    CHECK(h != 0, "zero handle");
    EXPECT(cn_set_event_callback(h, on_event, NULL), CN_OK);
    cn_server_session ss;
    EXPECT(cn_get_server_session(h, &ss), CN_OK);
    CHECK(strcmp(ss.server_id, cfg.server_id) == 0 && ss.session_id[0], "session %s/%s", ss.server_id, ss.session_id);
    EXPECT(cn_get_server_session(h, NULL), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_ready(h), CN_OK);
    EXPECT(cn_set_state(h, (cn_server_state)99), CN_ERR_INVALID_ARGUMENT);

    /* Authentication and its refusals. */
    cn_player pl;
    EXPECT(cn_authenticate(h, env("CN_TOKEN_ALICE"), &pl), CN_OK);
    CHECK(strcmp(pl.player_id, alice) == 0, "player %s", pl.player_id);
    EXPECT(cn_authenticate(h, env("CN_TOKEN_BOB"), NULL), CN_OK);
    EXPECT(cn_authenticate(h, env("CN_TOKEN_BANNED"), &pl), CN_ERR_BANNED);
    EXPECT(cn_authenticate(h, env("CN_TOKEN_EXPIRED"), &pl), CN_ERR_SESSION_EXPIRED);
    EXPECT(cn_authenticate(h, "eyJhbGciOiJFZERTQSJ9.e30.AAAA", &pl), CN_ERR_SESSION_INVALID);
    EXPECT(cn_authenticate(h, NULL, &pl), CN_ERR_INVALID_ARGUMENT);
    char *huge = malloc(CN_MAX_TOKEN_LEN + 100);
    memset(huge, 'a', CN_MAX_TOKEN_LEN + 99);
    huge[CN_MAX_TOKEN_LEN + 99] = 0;
    EXPECT(cn_authenticate(h, huge, &pl), CN_ERR_TOO_LARGE);
    EXPECT(cn_is_banned(h, huge, &banned), CN_ERR_TOO_LARGE);
    EXPECT(cn_publish(h, "match.1", huge, CN_MAX_PAYLOAD + 1), CN_ERR_TOO_LARGE);
    free(huge);

    /* The ban cache. */
    EXPECT(cn_is_banned(h, env("CN_BANNED_PLAYER"), &banned), CN_OK);
    CHECK(banned == 1, "banned player not in cache");
    EXPECT(cn_is_banned(h, alice, &banned), CN_OK);
    CHECK(banned == 0, "alice banned");
    EXPECT(cn_is_banned(h, alice, NULL), CN_ERR_INVALID_ARGUMENT);

    /* Publish / subscribe round trip. */
    EXPECT(cn_subscribe(h, "match.1", on_message, &messages), CN_OK);
    EXPECT(cn_subscribe(h, "match.1", NULL, NULL), CN_ERR_INVALID_ARGUMENT);
    double t0 = now_s();
    int got = 0;
    while (!got && now_s() - t0 < 10) {
        EXPECT(cn_publish(h, "match.1", "hello", 5), CN_OK);
        struct timespec ts;
        deadline_in(&ts, 200);
        pthread_mutex_lock(&mu);
        if (messages == 0) pthread_cond_timedwait(&cond, &mu, &ts);
        got = messages > 0;
        pthread_mutex_unlock(&mu);
    }
    CHECK(got && strcmp(last_message, "hello") == 0, "no message (got %d, '%s')", got, last_message);

    /* Metrics. */
    EXPECT(cn_send_metric(h, "tick_ms", 16.5, "map=dust,mode=ctf"), CN_OK);
    EXPECT(cn_send_metric(h, "Bad-Name", 1, NULL), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_send_metric(h, NULL, 1, NULL), CN_ERR_INVALID_ARGUMENT);
    printf("CHECK_METRICS\n");
    wait_go();

    /* A ban written through REST on another node kicks alice within 1 s. */
    double sent = now_s(); /* so KICK_MS includes the REST call: an upper bound */
    printf("BAN %s\n", alice);
    wait_go();
    struct timespec ts;
    deadline_in(&ts, 1000);
    pthread_mutex_lock(&mu);
    while (strcmp(kicked, alice) != 0) {
        if (pthread_cond_timedwait(&cond, &mu, &ts) != 0) break;
    }
    pthread_mutex_unlock(&mu);
    double took = now_s() - sent;
    CHECK(took < 1.5, "ban to kick took %.0f ms", took * 1000);
    CHECK(strcmp(kicked, alice) == 0 && strcmp(kick_reason, "banned") == 0, "no kick for alice within 1 s (got '%s' '%s')", kicked, kick_reason);
    printf("KICK_MS %.1f\n", took * 1000);
    EXPECT(cn_is_banned(h, alice, &banned), CN_OK);
    CHECK(banned == 1, "alice not in cache after the kick");
    EXPECT(cn_player_disconnect(h, alice), CN_OK);

    /* Allocation: a label the selectors see, a reservation, an allocation
     * through another node's REST API announced within 1 s with its
     * annotations, the return to the pool, and a self-allocation. */
    char *val = NULL;
    EXPECT(cn_set_label(h, "mode", "ctf"), CN_OK);
    EXPECT(cn_set_label(h, "bad key!", "x"), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_set_label(h, NULL, "x"), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_set_label(h, "gone", "1"), CN_OK);
    EXPECT(cn_set_label(h, "gone", NULL), CN_OK);
    EXPECT(cn_get_annotation(h, "map", &val), CN_ERR_NOT_FOUND);
    EXPECT(cn_get_annotation(h, "map", NULL), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_reserve(h, 0), CN_ERR_INVALID_ARGUMENT);
    EXPECT(cn_reserve(h, 30), CN_OK);
    EXPECT(cn_ready(h), CN_OK);
    sent = now_s();
    printf("ALLOCATE %s\n", cfg.server_id);
    wait_go();
    wait_event(&allocations, 1000);
    took = now_s() - sent;
    CHECK(allocations == 1 && allocation_id[0], "no CN_EVENT_ALLOCATED within 1 s of the allocation");
    printf("ALLOCATED_MS %.1f\n", took * 1000);
    EXPECT(cn_get_annotation(h, "map", &val), CN_OK);
    CHECK(val && strcmp(val, "dust") == 0, "annotation map = '%s', want dust", val ? val : "");
    cn_free(val);
    EXPECT(cn_reserve(h, 30), CN_ERR_CONFLICT);
    EXPECT(cn_ready(h), CN_OK);
    EXPECT(cn_get_annotation(h, "map", &val), CN_ERR_NOT_FOUND);
    EXPECT(cn_allocate(h), CN_OK);
    wait_count(&allocations, 2, 1000);
    CHECK(allocations == 2, "no CN_EVENT_ALLOCATED after cn_allocate");
    EXPECT(cn_ready(h), CN_OK);
    EXPECT(cn_allocate(0), CN_ERR_UNKNOWN_HANDLE);

    /* An operator drains the server through another node's REST API. */
    printf("DRAIN %s\n", cfg.server_id);
    wait_go();
    wait_event(&drains, 2000);
    CHECK(drains > 0, "no CN_EVENT_DRAIN");

    /* The node goes away: the library answers from its cache, says so,
     * and reconnects (re-registering) when the node is back. */
    printf("KILL_NODE\n");
    wait_go();
    wait_event(&disconnects, 5000);
    CHECK(disconnects > 0, "no CN_EVENT_DISCONNECTED");
    EXPECT(cn_is_banned(h, alice, &banned), CN_STALE);
    CHECK(banned == 1, "cache lost while disconnected");
    EXPECT(cn_last_error(h, &msg), CN_OK);
    CHECK(msg && strstr(msg, "stale"), "last error '%s' does not say stale", msg ? msg : "");
    cn_free(msg);
    EXPECT(cn_send_metric(h, "tick_ms", 1, NULL), CN_ERR_UNAVAILABLE);
    printf("RESTART_NODE\n");
    wait_go();
    wait_event(&reconnects, 30000);
    CHECK(reconnects > 0, "no CN_EVENT_RECONNECTED");
    EXPECT(cn_is_banned(h, alice, &banned), CN_OK);
    CHECK(banned == 1, "alice not banned after reconnect");
    EXPECT(cn_send_metric(h, "tick_ms", 2, NULL), CN_OK);

    if (getenv("CN_BENCH")) {
        const int n = 1000000;
        double b0 = now_s();
        for (int i = 0; i < n; i++) cn_is_banned(h, alice, &banned);
        double ban_ns = (now_s() - b0) / n * 1e9;
        const int na = 300;
        const char *tok = env("CN_TOKEN_BOB");
        b0 = now_s();
        for (int i = 0; i < na; i++) cn_authenticate(h, tok, &pl);
        double auth_us = (now_s() - b0) / na * 1e6;
        b0 = now_s();
        for (int i = 0; i < na; i++) cn_send_metric(h, "tick_ms", i, NULL);
        double metric_us = (now_s() - b0) / na * 1e6;
        printf("BENCH is_banned_ns=%.1f authenticate_us=%.1f send_metric_us=%.1f\n", ban_ns, auth_us, metric_us);
    }

    EXPECT(cn_shutdown(h), CN_OK);
    EXPECT(cn_shutdown(h), CN_ERR_UNKNOWN_HANDLE);
    EXPECT(cn_ready(h), CN_ERR_UNKNOWN_HANDLE);
    EXPECT(cn_is_banned(h, alice, &banned), CN_ERR_UNKNOWN_HANDLE);
    EXPECT(cn_publish(h, "match.1", "x", 1), CN_ERR_UNKNOWN_HANDLE);
    if (failures) {
        printf("FAILED %d\n", failures);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
