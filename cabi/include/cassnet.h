/*
 * cassnet.h: the C ABI of CassandraNet for game servers (libcassnet.so /
 * libcassnet.a, built by `make cabi`). This header is the contract; it is
 * hand-written and stable. The library talks gRPC to the CassandraNet node
 * on the same VM (default 127.0.0.1:7949).
 *
 * Conventions
 *   - Every function returns a cn_status. CN_OK is 0; CN_STALE (1) is a
 *     success whose answer came from the local cache while the link to
 *     the node is down; every other value is an error.
 *   - Strings are UTF-8 and NUL-terminated. Strings passed in are only
 *     read during the call (the library copies what it keeps). Strings
 *     the library returns through a `char **` are allocated by it and
 *     must be released with cn_free. Strings inside a callback's
 *     arguments are valid only until the callback returns.
 *   - A cn_handle is an opaque integer; 0 is never a valid handle. A
 *     handle unknown to the library (never issued, or shut down) is
 *     rejected with CN_ERR_UNKNOWN_HANDLE, and a NULL pointer where one is
 *     required with CN_ERR_INVALID_ARGUMENT; neither crashes.
 *   - Every function is thread-safe and may be called from any thread.
 *   - Callbacks run on library-owned threads, never on a thread of the
 *     caller's. Each handle delivers its events one at a time and in
 *     order, and each subscription its messages one at a time and in
 *     order, though not necessarily on the same OS thread each time. A
 *     callback must return promptly and must not call cn_shutdown on its
 *     own handle.
 *   - The library keeps the active bans of its tenant and project in
 *     memory, pushed by the node: cn_is_banned makes no network call.
 *     When the link drops the library reconnects with exponential backoff
 *     (100 ms to 5 s) and re-registers the server, its labels and its
 *     players.
 *   - ABI revisions only append: enum values, struct fields at the end of
 *     structs the library fills (cn_event), and functions. Revision 2 added
 *     allocation (CN_EVENT_ALLOCATED, cn_event.allocation_id,
 *     cn_get_annotation, cn_set_label, cn_reserve, cn_allocate) and
 *     CN_ERR_CONFLICT. Revision 3 added the environment contract of fleet
 *     servers (below) and cn_port.
 *
 * The environment contract (revision 3, docs/supervisor.md)
 *   A server started by a node's supervisor (a fleet server) gets its
 *   whole configuration in its environment, so it needs none of its own:
 *     CN_NODE        host:port of the node's gRPC listener
 *     CN_KEY         the credential to register with (secret: never log it)
 *     CN_SERVER_ID   this server's id, chosen by the cluster
 *     CN_PROJECT     the fleet's project
 *     CN_FLEET       the fleet's name (the node already knows it by id)
 *     CN_PORT_<NAME> each port of the fleet spec, reserved by the node;
 *                    <NAME> is the port's name upper-cased, '-' as '_'
 *   cn_init reads CN_KEY, CN_SERVER_ID, CN_NODE and CN_PROJECT for the
 *   cn_config fields left NULL, CN_PORT_GAME for a game_port left 0, and
 *   registers every CN_PORT_<NAME> as port <name> (lower case). A field
 *   the caller sets always wins, so programs written for revision 2 behave
 *   as before, except that a NULL api_key or server_id now succeeds when
 *   the environment holds CN_KEY or CN_SERVER_ID. `cn_config cfg = {0};`
 *   is therefore a complete configuration for a fleet server.
 */
#ifndef CASSNET_H
#define CASSNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CN_ABI_VERSION 1
#define CN_ABI_REVISION 3

/* Limits, checked before any network call. */
#define CN_MAX_ID_LEN 128           /* player, server and project ids */
#define CN_MAX_TOKEN_LEN 4096       /* session tokens and API keys */
#define CN_MAX_PAYLOAD (1024 * 1024) /* cn_publish; the node may allow less */
#define CN_MAX_LABEL_LEN 317        /* label keys: prefix (253) '/' name (63); values 63 */

typedef enum cn_status {
    CN_OK = 0,
    CN_STALE = 1,                  /* answered from cache; the node is unreachable */
    CN_ERR_INVALID_ARGUMENT = 2,   /* NULL, empty or malformed argument */
    CN_ERR_UNKNOWN_HANDLE = 3,     /* never issued, or already shut down */
    CN_ERR_TOO_LARGE = 4,          /* a string or payload over its limit */
    CN_ERR_UNAUTHENTICATED = 5,    /* the API key is missing, unknown or expired */
    CN_ERR_PERMISSION_DENIED = 6,  /* the API key's role is not game-server */
    CN_ERR_NOT_FOUND = 7,          /* e.g. a project the key cannot see */
    CN_ERR_UNAVAILABLE = 8,        /* the node is unreachable */
    CN_ERR_SESSION_INVALID = 9,    /* the player token is forged or malformed */
    CN_ERR_SESSION_EXPIRED = 10,
    CN_ERR_SESSION_REVOKED = 11,
    CN_ERR_BANNED = 12,            /* the player is banned */
    CN_ERR_INTERNAL = 13,
    CN_ERR_CONFLICT = 14           /* the server's state does not allow it (e.g. reserving an allocated server) */
} cn_status;

typedef uint64_t cn_handle;

/* cn_init's configuration. Only api_key and server_id are required; since
 * revision 3 they and node_address, project_id and game_port fall back to
 * the environment (CN_KEY, CN_SERVER_ID, CN_NODE, CN_PROJECT,
 * CN_PORT_GAME) when left NULL or 0. */
typedef struct cn_config {
    const char *node_address; /* host:port of the local node; NULL: $CN_NODE, else "127.0.0.1:7949" */
    const char *api_key;      /* a tenant API key of role game-server ("cnk_...") or a fleet server's CN_KEY; NULL: $CN_KEY */
    const char *server_id;    /* this server's id, unique in the tenant; NULL: $CN_SERVER_ID */
    const char *project_id;   /* NULL: $CN_PROJECT, else the key's project, or tenant-wide */
    const char *address;      /* NULL or the address players connect to */
    uint32_t game_port;       /* the port players connect to; 0: $CN_PORT_GAME, else none */
    uint32_t capacity;        /* player capacity */
    uint32_t timeout_ms;      /* per-call timeout; 0: 5000 */
} cn_config;

/* A verified player, filled by cn_authenticate. */
typedef struct cn_player {
    char player_id[CN_MAX_ID_LEN + 1];
    char session_id[CN_MAX_ID_LEN + 1];
    char project_id[CN_MAX_ID_LEN + 1];
    int64_t expires_unix_ms;
} cn_player;

/* This server's registration, filled by cn_get_server_session. */
typedef struct cn_server_session {
    char server_id[CN_MAX_ID_LEN + 1];
    char session_id[CN_MAX_ID_LEN + 1];
    char tenant_id[CN_MAX_ID_LEN + 1];
    char project_id[CN_MAX_ID_LEN + 1];
    char node[CN_MAX_ID_LEN + 1];
    uint32_t health_interval_ms;
} cn_server_session;

typedef enum cn_server_state {
    CN_STATE_STARTING = 1,
    CN_STATE_READY = 2,
    CN_STATE_ALLOCATED = 3,
    CN_STATE_DRAINING = 4
} cn_server_state;

typedef enum cn_event_kind {
    CN_EVENT_KICK = 1,         /* player_id must be kicked; reason "banned" or "revoked" */
    CN_EVENT_DRAIN = 2,        /* finish matches, accept no new players */
    CN_EVENT_NODE_LEAVING = 3, /* the node is shutting down */
    CN_EVENT_DISCONNECTED = 4, /* the link to the node dropped; answers may be stale */
    CN_EVENT_RECONNECTED = 5,
    CN_EVENT_ALLOCATED = 6     /* a match was allocated to this server: allocation_id; annotations via cn_get_annotation */
} cn_event_kind;

/* An event. Its strings are "" when absent and valid during the callback. */
typedef struct cn_event {
    cn_event_kind kind;
    const char *player_id;
    const char *reason;
    const char *ban_id;
    const char *allocation_id; /* CN_EVENT_ALLOCATED (revision 2) */
} cn_event;

typedef void (*cn_event_fn)(const cn_event *event, void *user_data);

/* A topic message. payload is valid during the callback only. */
typedef void (*cn_message_fn)(const char *topic, const char *event_id,
                              const uint8_t *payload, size_t len, void *user_data);

#ifndef CN_NO_PROTOTYPES

/* Connects to the node, registers the server (state STARTING) and starts
 * the event stream and health pings. *out receives the handle. Fails with
 * CN_ERR_UNAUTHENTICATED / CN_ERR_PERMISSION_DENIED for a bad key and
 * CN_ERR_UNAVAILABLE when the node cannot be reached. */
cn_status cn_init(const cn_config *config, cn_handle *out);

/* Copies this server's registration into *out. */
cn_status cn_get_server_session(cn_handle h, cn_server_session *out);

/* Marks the server ready for players (cn_set_state(h, CN_STATE_READY)). */
cn_status cn_ready(cn_handle h);
cn_status cn_set_state(cn_handle h, cn_server_state state);

/* Verifies a player's session token with the node, checks bans, and
 * records the player as connected to this server. On CN_OK, *out (if not
 * NULL) describes the player. Refusals: CN_ERR_BANNED,
 * CN_ERR_SESSION_EXPIRED, CN_ERR_SESSION_REVOKED, CN_ERR_SESSION_INVALID. */
cn_status cn_authenticate(cn_handle h, const char *player_token, cn_player *out);

/* Answers from the in-process ban cache, without a network call: *banned
 * is 1 or 0. CN_STALE while the link to the node is down. */
cn_status cn_is_banned(cn_handle h, const char *player_id, int *banned);

/* Forgets a connected player. */
cn_status cn_player_disconnect(cn_handle h, const char *player_id);

/* Reports a gauge. labels is NULL or "k=v,k2=v2" (kept by the node, not
 * exported as Prometheus labels). name matches [a-z_][a-z0-9_]*. */
cn_status cn_send_metric(cn_handle h, const char *name, double value, const char *labels);

/* Publishes len bytes on one of the tenant's topics. */
cn_status cn_publish(cn_handle h, const char *topic, const void *payload, size_t len);

/* Subscribes to a topic: callback receives each message on a library
 * thread until cn_shutdown. The stream resumes where it left off after a
 * reconnect. */
cn_status cn_subscribe(cn_handle h, const char *topic, cn_message_fn callback, void *user_data);

/* Sets (or, with NULL, clears) the callback for kick, drain, leave,
 * link and allocation events. */
cn_status cn_set_event_callback(cn_handle h, cn_event_fn callback, void *user_data);

/* Sets label key to value on this server (value NULL: removes it). The
 * label is replicated, so allocation selectors on every node see it, and
 * kept across reconnects. key and value follow Kubernetes label syntax
 * (CN_ERR_INVALID_ARGUMENT otherwise). */
cn_status cn_set_label(cn_handle h, const char *key, const char *value);

/* Keeps the server out of allocation for seconds (1 to 86400); it returns
 * to ready when they run out. CN_ERR_CONFLICT unless ready or starting. */
cn_status cn_reserve(cn_handle h, uint32_t seconds);

/* Self-allocation: marks this server allocated under a fresh allocation
 * id, delivered by a CN_EVENT_ALLOCATED event as for any allocation.
 * CN_ERR_CONFLICT unless ready, starting or reserved. After the match,
 * cn_ready returns the server to the pool. */
cn_status cn_allocate(cn_handle h);

/* *value receives a copy (release with cn_free) of annotation key of the
 * allocation the server holds, from the last CN_EVENT_ALLOCATED, without a
 * network call. CN_ERR_NOT_FOUND if there is no such annotation or no
 * allocation (cn_ready ends it). */
cn_status cn_get_annotation(cn_handle h, const char *key, char **value);

/* *out receives a copy of the handle's last error message ("" if none),
 * to release with cn_free. With h == 0 it is the last cn_init error. */
cn_status cn_last_error(cn_handle h, char **out);

/* *port receives the port the node reserved for the fleet spec's port
 * name (CN_PORT_<NAME>: name upper-cased, '-' as '_'), without a handle,
 * so a server can bind its sockets before cn_init. CN_ERR_NOT_FOUND when
 * the variable is unset, CN_ERR_INVALID_ARGUMENT when name is NULL or
 * empty, port is NULL, or the value is not a port 1-65535. (Revision 3.) */
cn_status cn_port(const char *name, uint32_t *port);

/* Releases memory the library returned. NULL is accepted. */
cn_status cn_free(void *p);

/* Marks the server shut down on the node, stops every library thread of
 * the handle (waiting for running callbacks), and invalidates it. */
cn_status cn_shutdown(cn_handle h);

#endif /* CN_NO_PROTOTYPES */

#ifdef __cplusplus
}
#endif
#endif /* CASSNET_H */
