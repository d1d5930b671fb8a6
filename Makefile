# ocfbox: build, test, install, benchmark.
#   make test                   installs missing packages (as root), then unit, metadata and
#                               real-peer sandbox tests
#   make install DESTDIR=/tmp/stage PREFIX=/usr PROVIDER=ocfbox
#   make bench                  ocfbox side by side with the agents it replaces
#   make fuzz SEED=1 CASES=100000 [JOBS=2]
#                               a fuzz campaign (tests/fuzz.rs); reproducers of findings go
#                               to FUZZ_OUT
#   make man                    one man page per program, from its meta-data, into target/man
#   make demo [ACT=N]           three acts with real clusters (see tools/demo.sh)
#   make dist | deb | rpm       source tarball (vendored crates) / packages, into target/packages

PREFIX     ?= /usr
DESTDIR    ?=
PROVIDER   ?= ocfbox
OCF_ROOT   ?= $(PREFIX)/lib/ocf
OCF_RA_DIR ?= $(OCF_ROOT)/resource.d
LIBEXECDIR ?= $(PREFIX)/libexec/ocfbox
SBINDIR    ?= $(PREFIX)/sbin
ALERTDIR   ?= $(PREFIX)/share/pacemaker/alerts
MANDIR     ?= $(PREFIX)/share/man
INSTALL    ?= install
CARGO      ?= cargo

# The binary `install` copies; tests stage their own debug build with BIN=...
BIN        ?= target/release/ocfbox

.PHONY: all build deps test lint manifest man-manifest man install uninstall dist deb rpm demo bench fuzz clean

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
		$(CARGO) test --locked --test tests fuzz::sample -- --exact --nocapture

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

# One line per program: its man page under MANDIR, as `make install` puts it (gzip'd).
# OCF agents: man7/ocf_<provider>_<agent>.7 (as resource-agents names them); fence and
# alert agents: man8/<name>.8.
man-manifest:
	@test -x $(BIN) || $(CARGO) build --release --locked
	@$(BIN) list | while read -r name kind _; do \
		case $$kind in \
			ocf) echo "$(MANDIR)/man7/ocf_$(PROVIDER)_$$name.7.gz" ;; \
			*) echo "$(MANDIR)/man8/$$name.8.gz" ;; \
		esac; \
	done

# The man pages, made at build time by the binary from each program's own meta-data
# (`ocfbox man NAME`), so a page cannot disagree with its agent. Into MANOUT, uncompressed.
MANOUT     ?= target/man
man:
	@test -x $(BIN) || $(CARGO) build --release --locked
	@rm -rf $(MANOUT) && mkdir -p $(MANOUT)
	@set -e; $(BIN) list | while read -r name kind _; do \
		case $$kind in ocf) page=ocf_$(PROVIDER)_$$name.7 ;; *) page=$$name.8 ;; esac; \
		$(BIN) man --provider $(PROVIDER) "$$name" > $(MANOUT)/$$page.tmp; \
		mv $(MANOUT)/$$page.tmp $(MANOUT)/$$page; \
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
	$(INSTALL) -d -m 0755 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	# A private MANOUT: parallel installs (the tests) must not share target/man.
	set -e; out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	$(MAKE) -s --no-print-directory man MANOUT="$$out"; \
	for page in "$$out"/*.[78]; do \
		sect=$${page##*.}; dest="$(DESTDIR)$(MANDIR)/man$$sect/$${page##*/}.gz"; \
		gzip -9n -c "$$page" > "$$dest"; chmod 0644 "$$dest"; \
	done

uninstall:
	links=$$(test -x $(DESTDIR)$(LIBEXECDIR)/ocfbox && \
		$(MAKE) -s --no-print-directory manifest BIN=$(DESTDIR)$(LIBEXECDIR)/ocfbox); \
	for link in $(DESTDIR)$(OCF_RA_DIR)/$(PROVIDER)/* $$(for l in $$links; do echo "$(DESTDIR)$$l"; done); do \
		if [ -L "$$link" ] && [ "$$(readlink "$$link")" = "$(LIBEXECDIR)/ocfbox" ]; then rm -f "$$link"; fi; \
	done
	-rmdir $(DESTDIR)$(OCF_RA_DIR)/$(PROVIDER) 2>/dev/null
	pages=$$(test -x $(DESTDIR)$(LIBEXECDIR)/ocfbox && \
		$(MAKE) -s --no-print-directory man-manifest BIN=$(DESTDIR)$(LIBEXECDIR)/ocfbox); \
	for page in $$pages; do rm -f "$(DESTDIR)$$page"; done
	rm -f $(DESTDIR)$(SBINDIR)/ocfbox $(DESTDIR)$(LIBEXECDIR)/ocfbox
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null

# Packages, built as distributions do: from the source tarball (`make dist`: the tree plus
# every crate vendored, with a .cargo/config.toml that keeps cargo offline), a release build
# with --offline, then `make install DESTDIR=...`. Into PKGDIR.
#   OCFBOX_PREBUILT=/path/to/ocfbox  package that binary instead of compiling one (the
#                                    package tests do: a release build with LTO takes minutes)
PKGDIR     ?= target/packages
dist:
	./packaging/dist.sh $(PKGDIR)

deb:
	./packaging/deb/build.sh $(PKGDIR)

rpm:
	./packaging/rpm.sh $(PKGDIR)

# Three acts with real clusters, narrated (tools/demo.sh); ACT=1|2|3 runs one.
demo: deps
	ACT=$(ACT) KEEP=$(KEEP) ./tools/demo.sh

bench: deps build
	./bench/run.sh

clean:
	$(CARGO) clean
