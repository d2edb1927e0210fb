# Shared by scripts/test, scripts/demo, scripts/tap and bench/run: install
# what the project needs, build (and install) the extension, and run
# commands as an unprivileged user (initdb refuses to run as root).

set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_USER=${PGTLS_AUDIT_TEST_USER:-pgtls_audit_test}
# valgrind is for bench/run (callgrind); postgresql-15 also brings pgbench;
# the MIT KDC and clients (krb5-*) are for t/011_gssapi.pl, IO::Socket::SSL
# and iproute2 for the raw clients and the network namespace of the tests;
# prometheus (promtool) and prometheus-postgres-exporter for
# t/031_prometheus.pl; unzip to read back the archive of make dist.
PACKAGES=(make gcc openssl perl libipc-run-perl libio-socket-ssl-perl iproute2 libkrb5-dev pg-bsd-indent valgrind
	krb5-kdc krb5-admin-server krb5-user
	postgresql-15 postgresql-client-15 postgresql-server-dev-15
	prometheus prometheus-postgres-exporter unzip)

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# Install the Debian packages that are missing; idempotent.
install_dependencies()
{
	install_packages "${PACKAGES[@]}"
}

# Install those of the Debian packages named that are missing; idempotent.
install_packages()
{
	local missing=()
	local package
	for package in "$@"; do
		dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$package")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# Build from clean, failing on any warning; nothing is installed.
build()
{
	local output
	make -C "$PROJECT_DIR" -s clean
	output=$(make -C "$PROJECT_DIR" -s 2>&1) ||
		{ echo "$output" >&2; echo "the build failed" >&2; exit 1; }
	if grep -q 'warning:' <<<"$output"; then
		echo "$output" >&2
		echo "the build has warnings" >&2
		exit 1
	fi
	return 0
}

# Build without warnings and install into the PostgreSQL tree.
build_and_install()
{
	build
	make -C "$PROJECT_DIR" -s install >/dev/null
}

# The unprivileged user that runs servers; created when missing.
ensure_test_user()
{
	[ "$(id -u)" -ne 0 ] && return 0
	id "$TEST_USER" >/dev/null 2>&1 ||
		useradd --system --create-home --shell /bin/bash "$TEST_USER"
}

# Run a command as the unprivileged user (as ourselves when not root).
as_test_user()
{
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$TEST_USER" -- env PATH="$PATH" PG_CONFIG="$PG_CONFIG" "$@"
	else
		"$@"
	fi
}

# A copy of the source tree the unprivileged user can build and test in,
# in a new directory /tmp/NAME.XXXXXX (NAME: pgtls_audit by default).
work_copy()
{
	local dir
	dir=$(mktemp -d "/tmp/${1:-pgtls_audit}.XXXXXX")
	tar -C "$PROJECT_DIR" --exclude=.git --exclude='tmp_check*' \
		--exclude=results --exclude=log -cf - . | tar -C "$dir" -xf -
	[ "$(id -u)" -eq 0 ] && chown -R "$TEST_USER" "$dir"
	echo "$dir"
}

# Run a command of the TAP harness (prove, or perl on a script using
# PostgreSQL::Test::Cluster) as the unprivileged user, in the work copy
# given first, with PostgreSQL's test modules and t/ on the Perl path.
run_harness()
{
	local work=$1
	local pgxs_dir
	shift
	pgxs_dir=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
	(
		cd "$work" &&
		as_test_user env TESTDIR="$work" \
			TESTDATADIR="$work/tmp_check" TESTLOGDIR="$work/tmp_check/log" \
			PATH="$("$PG_CONFIG" --bindir):$PATH" \
			PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" \
			PERL5LIB="$pgxs_dir/src/test/perl:$work/t" \
			"$@"
	)
}

# The lock that serializes everything installing into, testing against or
# installing packages into the machine's PostgreSQL tree, which several
# work trees share.
PG_LOCK=${PGTLS_AUDIT_LOCK:-/tmp/pgtls_audit-pg15.lock}

# Run a command holding $PG_LOCK; directly when this process or one of its
# ancestors already holds it (flock $PG_LOCK scripts/...), which a second
# flock would wait for forever.
with_pg_lock()
{
	local inode pid
	touch "$PG_LOCK" 2>/dev/null || true
	inode=$(stat -c %i "$PG_LOCK")
	for pid in $(awk -v inode="$inode" \
		'$2 == "FLOCK" { split($6, f, ":"); if (f[3] == inode) print $5 }' /proc/locks); do
		if lock_holder_is_ancestor "$pid"; then
			"$@"
			return
		fi
	done
	flock "$PG_LOCK" "$@"
}

lock_holder_is_ancestor()
{
	local holder=$1 pid=$$
	while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
		[ "$pid" = "$holder" ] && return 0
		pid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	done
	return 1
}
