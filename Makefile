# CassandraNet. `make run` starts a one-node cluster; `make test` runs every test.
GO        ?= go
BIN       := bin/cassnet
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
DATA      ?= ./data
NAME      ?= local

PROTO_SRC := $(wildcard proto/cassandranet/v1/*.proto)

.PHONY: all build run test test-short vet proto proto-check bench chaos chaos-alloc chaos-webhooks fuzz clean help cabi example-gameserver soak-supervisor chaos-ugc plugins chaos-plugins chaos-fleet \
	image compose-up compose-down compose-test

all: build

help:
	@echo "make run         build and start a one-node cluster under $(DATA)"
	@echo "make test        vet, check generated code, run every test with -race"
	@echo "make bench       every side-by-side suite (etcd, NATS, verify, failure detection) in 3 rounds, one table of ratios (~10 min)"
	@echo "make fuzz        run each fuzz target for a short while"
	@echo "make chaos       5-minute chaos run, every fault, race-built agents (root for network faults)"
	@echo "make chaos-alloc 50 s allocation chaos test: double allocations, idempotency, lost allocations"
	@echo "make chaos-webhooks  webhook chaos test: every acknowledged ban's event delivered, signed"

	@echo "make chaos-ugc   45 s UGC chaos test: lost items, deletes and uploads; published versions download with their sha256"
	@echo "make chaos-plugins 60 s plugins chaos test: replaced plugins and configs converge by sha256, no policy-refused ban in the state"
	@echo "make chaos-fleet 40 s fleet chaos test: node kills, pauses, process kills; buffer restored, no allocated server killed, no id reused"
	@echo "make proto       regenerate Go code from proto/"
	@echo "make cabi        build the game-server C library into $(CABI_OUT) (cabi/include/cassnet.h)"
	@echo "make example-gameserver  build examples/simple-gameserver into $(CABI_OUT)"
	@echo "make plugins     build the example Wasm plugins into $(PLUGINS_OUT) (docs/addons.md)"
	@echo "make image       build the static binary and the FROM scratch image $(IMAGE)"
	@echo "make compose-up  start the 3-node compose mesh (deploy/compose.yaml); compose-down removes it"
	@echo "make compose-test  image, compose mesh, ban through n2 read on n3, kill the leader, writes resume"

# A static binary: only libcassnet (make cabi) needs cgo.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/cassnet

# The image copies the binary built here: nothing is pulled (FROM scratch).
IMAGE   ?= cassnet:dev
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_PROJECT ?= cassnet
image: build
	docker build -t $(IMAGE) .

# docker-compose v1 ignores pull_policy: never, so the image is built
# first and checked, never pulled.
compose-up: image
	docker image inspect $(IMAGE) >/dev/null
	CASSNET_IMAGE=$(IMAGE) $(COMPOSE) -p $(COMPOSE_PROJECT) -f deploy/compose.yaml up -d
	@echo "REST: http://127.0.0.1:18081 (n1), :18082 (n2), :18083 (n3)"
	@echo "admin token: docker cp \$$($(COMPOSE) -p $(COMPOSE_PROJECT) -f deploy/compose.yaml ps -q n1):/data/admin-token ."

compose-down:
	$(COMPOSE) -p $(COMPOSE_PROJECT) -f deploy/compose.yaml down -v

compose-test: image
	COMPOSE="$(COMPOSE)" CASSNET_IMAGE=$(IMAGE) deploy/compose-test.sh

# The example Wasm plugins, each built from its own folder as a plugin
# author would (docs/addons.md).
PLUGINS_OUT ?= bin/plugins
plugins:
	@mkdir -p $(PLUGINS_OUT)
	for d in examples/plugins/*/; do \
	  n=$$(basename $$d); \
	  (cd $$d && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $(CURDIR)/$(PLUGINS_OUT)/$$n.wasm .) || exit 1; \
	done

# The C ABI for game servers. cabi/include/cassnet.h is the contract; the
# headers cgo generates stay internal and are removed.
CABI_OUT ?= bin/cabi
cabi:
	@mkdir -p $(CABI_OUT)
	$(GO) build -buildmode=c-shared -o $(CABI_OUT)/libcassnet.so ./cabi
	$(GO) build -buildmode=c-archive -o $(CABI_OUT)/libcassnet.a ./cabi
	rm -f $(CABI_OUT)/libcassnet.h
	cp cabi/include/cassnet.h $(CABI_OUT)/

# The example fleet server (examples/simple-gameserver, docs/supervisor.md),
# linked to the libcassnet.so beside it.
example-gameserver: cabi
	gcc -Wall -Wextra -Werror -O2 -I$(CABI_OUT) -o $(CABI_OUT)/simple-gameserver \
	    examples/simple-gameserver/main.c -L$(CABI_OUT) -lcassnet -lpthread -Wl,-rpath,'$$ORIGIN'

run: build
	@mkdir -p $(DATA)
	@echo "CassandraNet: one-node cluster, data in $(DATA)/$(NAME)"
	@echo "  REST:    http://127.0.0.1:8080/v1/health"
	@echo "  metrics: http://127.0.0.1:8080/metrics"
	@echo "  API doc: http://127.0.0.1:8080/v1/openapi.json"
	@if [ -f $(DATA)/$(NAME)/admin-token ]; then echo "  admin-token: $$(cat $(DATA)/$(NAME)/admin-token)"; fi
	./$(BIN) agent --bootstrap --name $(NAME) --data-dir $(DATA)/$(NAME) --bind 127.0.0.1 --voters 1

vet:
	$(GO) vet ./...

test: vet proto-check
	$(GO) test -race -count=1 -timeout 18m ./...

test-short:
	$(GO) test -short -count=1 ./...

# The messaging protocols (topic gossip, the streaming protocol) also get
# vtprotobuf's generated codecs (*_vtproto.pb.go): their hot paths
# encode and decode without reflection (docs/benchmarks.md).
VTPROTO_SRC      := proto/cassandranet/v1/pubsub.proto proto/cassandranet/v1/stream.proto
VTPROTO_FEATURES := marshal+unmarshal+unmarshal_unsafe+size

proto:
	protoc --go_out=. --go_opt=paths=source_relative \
	       --go-grpc_out=. --go-grpc_opt=paths=source_relative $(PROTO_SRC)
	protoc --go-vtproto_out=. --go-vtproto_opt=paths=source_relative,features=$(VTPROTO_FEATURES) $(VTPROTO_SRC)

# Fails when the committed generated code differs from what protoc makes.
proto-check:
	@tmp=$$(mktemp -d); \
	protoc --go_out=$$tmp --go_opt=paths=source_relative \
	       --go-grpc_out=$$tmp --go-grpc_opt=paths=source_relative $(PROTO_SRC) && \
	protoc --go-vtproto_out=$$tmp --go-vtproto_opt=paths=source_relative,features=$(VTPROTO_FEATURES) $(VTPROTO_SRC) && \
	for f in $$tmp/proto/cassandranet/v1/*.go; do \
	  if ! cmp -s $$f proto/cassandranet/v1/$$(basename $$f); then \
	    echo "generated code is stale: $$(basename $$f) (run make proto)"; rm -rf $$tmp; exit 1; fi; \
	done; \
	for f in proto/cassandranet/v1/*.pb.go; do \
	  if [ ! -f $$tmp/proto/cassandranet/v1/$$(basename $$f) ]; then \
	    echo "generated code is stale: $$(basename $$f) is no longer generated (run make proto)"; rm -rf $$tmp; exit 1; fi; \
	done; rm -rf $$tmp; echo "generated code is up to date"

bench: build
	./$(BIN) bench --bin ./$(BIN)

# Every fuzz target, as package:Target. CI runs each briefly (FUZZTIME=5s).
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./consensus/:FuzzApplyEnvelope \
	./state/:FuzzDecodeApply \
	./state/bans/:FuzzRecordRoundTrip \
	./state/bans/:FuzzRecordDecode \
	./state/servers/:FuzzValidateAllocate \
	./state/fleets/:FuzzParseSpec \
	./fleet/:FuzzServerKey \
	./mesh/:FuzzDecodeMeta \
	./session/:FuzzVerify \
	./api/:FuzzVerifyBody \
	./api/:FuzzDecodeVerify \
	./api/:FuzzParseCredential \
	./api/:FuzzDecodeCreateBan \
	./api/:FuzzScoreAnswer \
	./api/:FuzzDecodeCreateTenant \
	./api/:FuzzDecodeCreateWebhook \
	./webhook/:FuzzParseSignature \
	./api/:FuzzServerFilter \
	./api/:FuzzUGCQuery \
	./api/:FuzzDecodeUGCItem \
	./console/:FuzzCredential \
	./api/:FuzzDecodeStreamRequest \
	./api/:FuzzStreamVTEquivalence \
	./api/:FuzzStreamResponseVT \
	./streamclient/:FuzzDecodeResponse \
	./streamclient/:FuzzResponseVTEquivalence \
	./pubsub/:FuzzDecodeEnvelope \
	./pubsub/:FuzzVTEquivalence \
	./pubsub/:FuzzDecodeGossip \
	./pubsub/:FuzzBackfillDecoders \
	./pubsub/:FuzzDecodeEventID \
	./pubsub/:FuzzDecodeHeads \
	./testnet/:FuzzParseVmHWM \
	./supervisor/:FuzzParsePortRange \
	./supervisor/:FuzzValidateEnv \
	./pki/:FuzzParseToken \
	./pki/:FuzzReadFrame \
	./ugc/blob/:FuzzToken \
	./ugc/blob/:FuzzParseUploadID \
	./ugc/blob/:FuzzParseBlobPath \
	./ugc/blob/:FuzzUploadRequest \
	./plugin/:FuzzParseManifest \
	./plugin/:FuzzDecodeResult \
	./pluginsdk/:FuzzGet

# A longer chaos run than the one in `make test` (docs/testnet.md).
# Override CHAOS_NODES, CHAOS_DURATION, CHAOS_FAULTS, CHAOS_SEED, CHAOS_OUT.
# Partitions and link faults need root (network namespaces).
CHAOS_NODES    ?= 5
CHAOS_DURATION ?= 5m
CHAOS_FAULTS   ?= all
CHAOS_WORKLOADS ?= all
CHAOS_SEED     ?=
CHAOS_OUT      ?= chaos-out

chaos: build
	$(GO) build -race -ldflags "$(LDFLAGS)" -o bin/cassnet-race ./cmd/cassnet
	rm -rf $(CHAOS_OUT)
	./$(BIN) testnet run --bin ./bin/cassnet-race --nodes $(CHAOS_NODES) --duration $(CHAOS_DURATION) \
	    --faults $(CHAOS_FAULTS) --workloads $(CHAOS_WORKLOADS) --out $(CHAOS_OUT) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))

# The allocation chaos test (issue 11): 3 nodes, kill, pause and (as root)
# partitions under the allocation workload; about 50 s.
chaos-alloc:
	CASSNET_CHAOS_ALLOC=1 $(GO) test -race -count=1 -timeout 6m -run '^TestChaosAlloc$$' -v ./testnet/

# The webhook chaos test (issue 15): 3 nodes, kill, pause and (as root)
# leader isolation under the ban workload with a subscribed webhook.
chaos-webhooks:
	CASSNET_CHAOS_WEBHOOKS=1 $(GO) test -race -count=1 -timeout 6m -run '^TestChaosWebhooks$$' -v ./testnet/

# The supervisor's concurrent-operations test for a minute instead of 1.5 s.
soak-supervisor:
	CASSNET_SUPERVISOR_SOAK=1 $(GO) test -race -count=1 -timeout 5m -run '^TestConcurrentOps$$' -v ./supervisor/

chaos-ugc:
	CASSNET_CHAOS_UGC=1 $(GO) test -race -count=1 -timeout 6m -run '^TestChaosUGC$$' -v ./testnet/

chaos-plugins:
	CASSNET_CHAOS_PLUGINS=1 $(GO) test -race -count=1 -timeout 7m -run '^TestChaosPlugins$$' -v ./testnet/

chaos-fleet:
	CASSNET_CHAOS_FLEET=1 $(GO) test -race -count=1 -timeout 6m -run '^TestChaosFleet$$' -v ./testnet/fleettest/

# scripts/fuzz.sh retries a target only on Go 1.26's coordinator race
# (golang/go#75804): "context deadline exceeded" with no failing input.
fuzz:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh $(FUZZ_TARGETS)

clean:
	rm -rf bin $(DATA)
