# ocfbox: build, test, install, benchmark.
#   make test                   installs missing packages (as root), then unit, metadata and
#                               real-peer sandbox tests
#   make install DESTDIR=/tmp/stage PREFIX=/usr PROVIDER=ocfbox
#   make bench                  ocfbox side by side with the agents it replaces
#   make fuzz SEED=1 CASES=100000 [JOBS=2]
#                               a fuzz campaign (tests/fuzz.rs); reproducers of findings go
#                               to FUZZ_OUT

PREFIX     ?= /usr
DESTDIR    ?=
PROVIDER   ?= ocfbox
OCF_ROOT   ?= $(PREFIX)/lib/ocf
OCF_RA_DIR ?= $(OCF_ROOT)/resource.d
LIBEXECDIR ?= $(PREFIX)/libexec/ocfbox
SBINDIR    ?= $(PREFIX)/sbin
ALERTDIR   ?= $(PREFIX)/share/pacemaker/alerts
INSTALL    ?= install
CARGO      ?= cargo

# The binary `install` copies; tests stage their own debug build with BIN=...
BIN        ?= target/release/ocfbox

.PHONY: all build deps test lint manifest install uninstall bench fuzz clean

all: build

build:
	$(CARGO) build --release --locked

deps:
	./tools/install-deps.sh

test: deps
	$(CARGO) test --locked --no-fail-fast

SEED     ?= 1
CASES    ?= 10000
JOBS     ?= 2
FUZZ_OUT ?= /tmp/ocfbox-fuzz-findings

# The campaign's cases run through the case-init example (built here: `cargo test` builds
# examples, `cargo test --test` does not).
fuzz: deps
	$(CARGO) build --locked --examples
	OCFBOX_FUZZ_SEED=$(SEED) OCFBOX_FUZZ_CASES=$(CASES) OCFBOX_FUZZ_JOBS=$(JOBS) \
		OCFBOX_FUZZ_OUT=$(FUZZ_OUT) \
		$(CARGO) test --locked --test tests fuzz::campaign -- --ignored --nocapture

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# One line per program (`ocfbox list`: name, kind): the path of its link, where Pacemaker
# looks for that kind. OCF agents: resource.d/<provider> (pacemaker-execd); fence agents:
# $(SBINDIR) (pacemaker-fenced lists /usr/sbin); alert agents: next to Pacemaker's samples.
manifest:
	@test -x $(BIN) || $(CARGO) build --release --locked
	@$(BIN) list | while read -r name kind _; do \
		case $$kind in \
			ocf) echo "$(OCF_RA_DIR)/$(PROVIDER)/$$name" ;; \
			fence) echo "$(SBINDIR)/$$name" ;; \
			alert) echo "$(ALERTDIR)/$$name" ;; \
			*) echo "$$name: unknown program kind '$$kind'" >&2; exit 1 ;; \
		esac; \
	done

# The binary once, then one symlink per program (the link's name picks it). The link
# target is absolute and without DESTDIR, so a staged tree is right once copied into place.
install:
	@test -x $(BIN) || $(CARGO) build --release --locked
	$(INSTALL) -d -m 0755 $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(OCF_RA_DIR)/$(PROVIDER) $(DESTDIR)$(SBINDIR)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(LIBEXECDIR)/ocfbox
	ln -sfn $(LIBEXECDIR)/ocfbox $(DESTDIR)$(SBINDIR)/ocfbox
	set -e; links=$$($(MAKE) -s --no-print-directory manifest); for link in $$links; do \
		$(INSTALL) -d -m 0755 "$(DESTDIR)$$(dirname "$$link")"; \
		ln -sfn $(LIBEXECDIR)/ocfbox "$(DESTDIR)$$link"; \
	done

uninstall:
	links=$$(test -x $(DESTDIR)$(LIBEXECDIR)/ocfbox && \
		$(MAKE) -s --no-print-directory manifest BIN=$(DESTDIR)$(LIBEXECDIR)/ocfbox); \
	for link in $(DESTDIR)$(OCF_RA_DIR)/$(PROVIDER)/* $$(for l in $$links; do echo "$(DESTDIR)$$l"; done); do \
		if [ -L "$$link" ] && [ "$$(readlink "$$link")" = "$(LIBEXECDIR)/ocfbox" ]; then rm -f "$$link"; fi; \
	done
	-rmdir $(DESTDIR)$(OCF_RA_DIR)/$(PROVIDER) 2>/dev/null
	rm -f $(DESTDIR)$(SBINDIR)/ocfbox $(DESTDIR)$(LIBEXECDIR)/ocfbox
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null

bench: deps build
	./bench/run.sh

clean:
	$(CARGO) clean
