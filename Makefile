# pgtls_audit/Makefile

MODULE_big = pgtls_audit
OBJS = \
	$(WIN32RES) \
	aggregates.o \
	capture.o \
	certificates.o \
	history.o \
	history_table.o \
	logline.o \
	pgtls_audit.o \
	policy.o \
	record.o \
	rules.o \
	sessions.o \
	settable.o \
	store.o \
	views.o

EXTENSION = pgtls_audit
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
# The first version's script and an upgrade script per later version:
# CREATE EXTENSION runs them in turn, ALTER EXTENSION UPDATE the later ones.
DATA = $(wildcard pgtls_audit--*.sql)
PGFILEDESC = "pgtls_audit - audit and govern the TLS of every connection attempt"

SHLIB_LINK += -lssl -lcrypto
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter

REGRESS = pgtls_audit
REGRESS_OPTS = --temp-config=$(srcdir)/test/preload.conf --temp-instance=./tmp_check_regress
TAP_TESTS = 1
PROVE_FLAGS = -I ./t

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# META.json must describe the version the control file installs, and name
# files that exist (scripts/meta check).
installcheck: check-meta
.PHONY: check-meta dist
check-meta:
	@$(PERL) $(srcdir)/scripts/meta check $(srcdir)

# The PGXN archive of the committed tree: $(EXTENSION)-$(EXTVERSION).zip
# with the top directory $(EXTENSION)-$(EXTVERSION)/.
dist:
	@$(PERL) $(srcdir)/scripts/meta dist .

# Every object depends on the shared declarations.
$(filter %.o, $(OBJS)): pgtls_audit.h compat.h policy.h record.h rules.h \
	history.h sessions.h aggregates.h certificates.h settable.h store.h \
	views.h
