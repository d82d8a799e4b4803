package main

/*
#cgo CFLAGS: -I${SRCDIR}/include
#define CN_NO_PROTOTYPES
#include <stdlib.h>
#include "cassnet.h"

static void cn_call_event(cn_event_fn fn, int kind, const char *player, const char *reason,
                          const char *ban, const char *allocation, void *user_data) {
	cn_event ev = { (cn_event_kind)kind, player, reason, ban, allocation };
	fn(&ev, user_data);
}

static void cn_call_message(cn_message_fn fn, const char *topic, const char *id,
                            const uint8_t *payload, size_t len, void *user_data) {
	fn(topic, id, payload, len, user_data);
}
*/
import "C"

import (
	"strings"
	"time"
	"unsafe"

	cassnetv1 "github.com/cassandranet/cassnet/proto/cassandranet/v1"
)

//export cn_init
func cn_init(cfg *C.cn_config, out *C.cn_handle) C.cn_status {
	if cfg == nil || out == nil {
		handles.setInitErr("cn_init: config and out are required")
		return C.CN_ERR_INVALID_ARGUMENT
	}
	var c config
	var st C.cn_status
	fail := func(msg string) C.cn_status { handles.setInitErr("cn_init: " + msg); return st }
	// A field left NULL (or 0) is read from the environment a node's
	// supervisor gives a fleet server: CN_KEY, CN_SERVER_ID, CN_NODE,
	// CN_PROJECT, CN_PORT_<NAME> (docs/supervisor.md).
	fromEnv := func(p *C.char, env string, max int, required bool) (string, C.cn_status) {
		if p != nil {
			if required {
				return arg(p, max)
			}
			return opt(p, max)
		}
		v, tooLong := getenv(env, max)
		switch {
		case tooLong:
			return "", C.CN_ERR_TOO_LARGE
		case v == "" && required:
			return "", C.CN_ERR_INVALID_ARGUMENT
		}
		return v, C.CN_OK
	}
	if c.key, st = fromEnv(cfg.api_key, envKey, maxTokenLen, true); st != C.CN_OK {
		return fail("api_key (or CN_KEY) is required, at most 4096 bytes")
	}
	if c.server, st = fromEnv(cfg.server_id, envServer, maxIDLen, true); st != C.CN_OK {
		return fail("server_id (or CN_SERVER_ID) is required, at most 128 bytes")
	}
	if c.node, st = fromEnv(cfg.node_address, envNode, 256, false); st != C.CN_OK {
		return fail("node_address (or CN_NODE) is too long")
	}
	if c.project, st = fromEnv(cfg.project_id, envProject, maxIDLen, false); st != C.CN_OK {
		return fail("project_id (or CN_PROJECT) is too long")
	}
	if c.address, st = opt(cfg.address, 256); st != C.CN_OK {
		return fail("address is too long")
	}
	if c.node == "" {
		c.node = "127.0.0.1:7949"
	}
	c.port, c.capacity = uint32(cfg.game_port), uint32(cfg.capacity)
	c.ports = envPorts()
	if c.port == 0 {
		c.port = c.ports["game"]
	}
	c.fleet, _ = getenv(envFleet, maxIDLen)
	c.timeout = time.Duration(cfg.timeout_ms) * time.Millisecond
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	cl, code, err := newClient(c)
	if err != nil {
		handles.setInitErr("cn_init: " + err.Error())
		return C.cn_status(code)
	}
	*out = C.cn_handle(handles.add(cl))
	return C.CN_OK
}

//export cn_get_server_session
func cn_get_server_session(h C.cn_handle, out *C.cn_server_session) C.cn_status {
	c := handles.get(uint64(h))
	switch {
	case c == nil:
		return C.CN_ERR_UNKNOWN_HANDLE
	case out == nil:
		return C.CN_ERR_INVALID_ARGUMENT
	}
	s := c.session.Load()
	fill(&out.server_id[0], maxIDLen+1, s.GetServerId())
	fill(&out.session_id[0], maxIDLen+1, s.GetSessionId())
	fill(&out.tenant_id[0], maxIDLen+1, s.GetTenantId())
	fill(&out.project_id[0], maxIDLen+1, s.GetProjectId())
	fill(&out.node[0], maxIDLen+1, s.GetNode())
	out.health_interval_ms = C.uint32_t(s.GetHealthIntervalMs())
	return C.CN_OK
}

//export cn_ready
func cn_ready(h C.cn_handle) C.cn_status {
	return cn_set_state(h, C.CN_STATE_READY)
}

//export cn_set_state
func cn_set_state(h C.cn_handle, state C.cn_server_state) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	if state < C.CN_STATE_STARTING || state > C.CN_STATE_DRAINING {
		return C.cn_status(c.setErr(stInvalidArgument, "cn_set_state: unknown state %d", int(state)))
	}
	return C.cn_status(c.setState(cassnetv1.ServerState(state)))
}

//export cn_authenticate
func cn_authenticate(h C.cn_handle, token *C.char, out *C.cn_player) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	tok, st := arg(token, maxTokenLen)
	if st != C.CN_OK {
		return C.cn_status(c.setErr(int(st), "cn_authenticate: player_token is NULL, empty or too long"))
	}
	res, code := c.authenticate(tok)
	if code == stOK && out != nil {
		fill(&out.player_id[0], maxIDLen+1, res.GetPlayerId())
		fill(&out.session_id[0], maxIDLen+1, res.GetSessionId())
		fill(&out.project_id[0], maxIDLen+1, res.GetProjectId())
		out.expires_unix_ms = C.int64_t(res.GetExpiresUnixMs())
	}
	return C.cn_status(code)
}

//export cn_is_banned
func cn_is_banned(h C.cn_handle, player *C.char, banned *C.int) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	p, ok, tooLong := cstr(player, maxIDLen)
	switch {
	case tooLong:
		return C.CN_ERR_TOO_LARGE
	case !ok || p == "" || banned == nil:
		return C.CN_ERR_INVALID_ARGUMENT
	}
	is, st := c.isBanned(p)
	*banned = 0
	if is {
		*banned = 1
	}
	return C.cn_status(st)
}

//export cn_player_disconnect
func cn_player_disconnect(h C.cn_handle, player *C.char) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	p, st := arg(player, maxIDLen)
	if st != C.CN_OK {
		return st
	}
	return C.cn_status(c.disconnect(p))
}

//export cn_send_metric
func cn_send_metric(h C.cn_handle, name *C.char, value C.double, labels *C.char) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	n, st := arg(name, 64)
	if st != C.CN_OK {
		return st
	}
	l, st := opt(labels, maxTokenLen)
	if st != C.CN_OK {
		return st
	}
	var lm map[string]string
	for _, kv := range strings.Split(l, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			if lm == nil {
				lm = map[string]string{}
			}
			lm[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return C.cn_status(c.metric(n, float64(value), lm))
}

//export cn_publish
func cn_publish(h C.cn_handle, topic *C.char, payload unsafe.Pointer, n C.size_t) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	t, st := arg(topic, maxIDLen)
	switch {
	case st != C.CN_OK:
		return st
	case payload == nil && n > 0:
		return C.CN_ERR_INVALID_ARGUMENT
	case n > maxPayload:
		return C.cn_status(c.setErr(stTooLarge, "cn_publish: %d bytes, limit %d", uint64(n), maxPayload))
	}
	return C.cn_status(c.publish(t, C.GoBytes(payload, C.int(n))))
}

//export cn_subscribe
func cn_subscribe(h C.cn_handle, topic *C.char, fn C.cn_message_fn, userData unsafe.Pointer) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	t, st := arg(topic, maxIDLen)
	if st != C.CN_OK || fn == nil {
		return C.CN_ERR_INVALID_ARGUMENT
	}
	c.subscribe(t, func(topic, id string, payload []byte) {
		ct, cid := C.CString(topic), C.CString(id)
		defer C.free(unsafe.Pointer(ct))
		defer C.free(unsafe.Pointer(cid))
		var p unsafe.Pointer
		if len(payload) > 0 {
			p = C.CBytes(payload)
			defer C.free(p)
		}
		C.cn_call_message(fn, ct, cid, (*C.uint8_t)(p), C.size_t(len(payload)), userData)
	})
	return C.CN_OK
}

//export cn_set_event_callback
func cn_set_event_callback(h C.cn_handle, fn C.cn_event_fn, userData unsafe.Pointer) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	if fn == nil {
		c.onEvent.Store(nil)
		return C.CN_OK
	}
	f := eventFn(func(kind int, player, reason, banID, alloc string) {
		cp, cr, cb, ca := C.CString(player), C.CString(reason), C.CString(banID), C.CString(alloc)
		defer C.free(unsafe.Pointer(cp))
		defer C.free(unsafe.Pointer(cr))
		defer C.free(unsafe.Pointer(cb))
		defer C.free(unsafe.Pointer(ca))
		C.cn_call_event(fn, C.int(kind), cp, cr, cb, ca, userData)
	})
	c.onEvent.Store(&f)
	return C.CN_OK
}

//export cn_set_label
func cn_set_label(h C.cn_handle, key, value *C.char) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	k, st := arg(key, maxLabelLen)
	if st != C.CN_OK {
		return C.cn_status(c.setErr(int(st), "cn_set_label: key is NULL, empty or too long"))
	}
	if value == nil {
		return C.cn_status(c.setLabel(k, "", true))
	}
	v, st := opt(value, maxLabelLen)
	if st != C.CN_OK {
		return C.cn_status(c.setErr(int(st), "cn_set_label: value is too long"))
	}
	return C.cn_status(c.setLabel(k, v, false))
}

//export cn_reserve
func cn_reserve(h C.cn_handle, seconds C.uint32_t) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	if seconds == 0 || seconds > 86400 {
		return C.cn_status(c.setErr(stInvalidArgument, "cn_reserve: seconds must be 1 to 86400, got %d", uint32(seconds)))
	}
	return C.cn_status(c.reserve(uint32(seconds)))
}

//export cn_allocate
func cn_allocate(h C.cn_handle) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	return C.cn_status(c.allocate())
}

//export cn_get_annotation
func cn_get_annotation(h C.cn_handle, key *C.char, value **C.char) C.cn_status {
	c := handles.get(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	k, st := arg(key, maxLabelLen)
	if st != C.CN_OK {
		return st
	}
	if value == nil {
		return C.CN_ERR_INVALID_ARGUMENT
	}
	v, code := c.annotation(k)
	if code != stOK {
		return C.cn_status(c.setErr(code, "cn_get_annotation: no annotation %q", k))
	}
	*value = C.CString(v)
	return C.CN_OK
}

//export cn_last_error
func cn_last_error(h C.cn_handle, out **C.char) C.cn_status {
	if out == nil {
		return C.CN_ERR_INVALID_ARGUMENT
	}
	msg := handles.lastInitErr()
	if h != 0 {
		c := handles.get(uint64(h))
		if c == nil {
			return C.CN_ERR_UNKNOWN_HANDLE
		}
		msg = c.lastError()
	}
	*out = C.CString(msg)
	return C.CN_OK
}

//export cn_free
func cn_free(p unsafe.Pointer) C.cn_status {
	C.free(p)
	return C.CN_OK
}

//export cn_shutdown
func cn_shutdown(h C.cn_handle) C.cn_status {
	c := handles.take(uint64(h))
	if c == nil {
		return C.CN_ERR_UNKNOWN_HANDLE
	}
	return C.cn_status(c.shutdown())
}
