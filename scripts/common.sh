# Shared by scripts/test and scripts/demo: install what the project needs,
# build and install the extension, and run commands as an unprivileged user
# (initdb refuses to run as root).

set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_USER=${PGTLS_AUDIT_TEST_USER:-pgtls_audit_test}
PACKAGES=(make gcc openssl perl libipc-run-perl libkrb5-dev pg-bsd-indent
	postgresql-15 postgresql-client-15 postgresql-server-dev-15)

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

# Install the Debian packages that are missing; idempotent.
install_dependencies()
{
	local missing=()
	local package
	for package in "${PACKAGES[@]}"; do
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

# Build without warnings and install into the PostgreSQL tree.
build_and_install()
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

# A copy of the source tree the unprivileged user can build and test in.
work_copy()
{
	local dir
	dir=$(mktemp -d /tmp/pgtls_audit.XXXXXX)
	tar -C "$PROJECT_DIR" --exclude=.git --exclude='tmp_check*' \
		--exclude=results --exclude=log -cf - . | tar -C "$dir" -xf -
	[ "$(id -u)" -eq 0 ] && chown -R "$TEST_USER" "$dir"
	echo "$dir"
}
