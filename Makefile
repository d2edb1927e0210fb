# pgtls_audit/Makefile

MODULE_big = pgtls_audit
OBJS = \
	$(WIN32RES) \
	aggregates.o \
	capture.o \
	certificates.o \
	history.o \
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

# META.json must describe the version the control file installs.
installcheck: check-meta
.PHONY: check-meta
check-meta:
	@perl -MJSON::PP -e '$$/ = undef; $$m = decode_json(<STDIN>); @v = ($$m->{version}, $$m->{provides}{$$ARGV[0]}{version}); exit 0 unless grep { $$_ ne $$ARGV[1] } @v; die "META.json carries version @v, $$ARGV[0].control $$ARGV[1]\n"' $(EXTENSION) $(EXTVERSION) < $(srcdir)/META.json

# Every object depends on the shared declarations.
$(filter %.o, $(OBJS)): pgtls_audit.h compat.h policy.h record.h rules.h \
	history.h sessions.h aggregates.h certificates.h settable.h store.h
