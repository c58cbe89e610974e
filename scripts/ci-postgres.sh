#!/usr/bin/env bash
# Local PostgreSQL for CI (.ci/run) and `make pg-test`.
#
#   scripts/ci-postgres.sh ensure          server answers on 127.0.0.1:5432 (start it, or apt-install it)
#   scripts/ci-postgres.sh create DB       create database DB; print its URL on stdout
#   scripts/ci-postgres.sh drop DB         drop database DB (closing leftover connections)
#   scripts/ci-postgres.sh run CMD ARGS..  ensure + throwaway DB + run CMD with
#                                          FLOWKER_TEST_DATABASE_URL and FLOWKER_REQUIRE_TEST_DB=1 + drop
#
# Logs in as `postgres` without a password when TCP auth is `trust`; otherwise
# (e.g. Debian's default scram-sha-256) `ensure` creates a CREATEDB role
# flowker_ci/flowker_ci over the unix socket and that role is used instead.
# Progress goes to stderr; stdout carries only the URL printed by `create`.
set -euo pipefail

host=127.0.0.1
port=5432
ci_role=flowker_ci
ci_password=flowker_ci # throwaway role on a local test server, not a secret

say() { echo "    $*" >&2; }
die() {
	echo "ci-postgres: $*" >&2
	exit 1
}

as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		die "root (or passwordless sudo) is needed for: $*"
	fi
}

# Runs a command as the postgres OS user (peer auth over the unix socket).
as_postgres() {
	if [[ $(id -un) == postgres ]]; then
		"$@"
	elif [[ $EUID -eq 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && sudo -n -u postgres -- "$@")
	fi
}

ready() { command -v pg_isready >/dev/null && pg_isready -q -h "$host" -p "$port"; }

# Highest PostgreSQL version with a cluster in /etc/postgresql, or with server binaries.
latest_subdir() { find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n1 || true; }
cluster_version() { latest_subdir /etc/postgresql; }
server_version() { latest_subdir /usr/lib/postgresql; }

wait_ready() {
	for _ in $(seq 1 30); do
		ready && return 0
		sleep 1
	done
	pg_lsclusters >&2 || true
	die "PostgreSQL is not accepting connections on $host:$port after 30s"
}

url_for() { # url_for USERSPEC DB
	echo "postgres://$1@$host:$port/$2?sslmode=disable"
}

can_login() { PGCONNECT_TIMEOUT=5 psql -w -X -q -At -d "$(url_for "$1" postgres)" -c 'SELECT 1' >/dev/null 2>&1; }

# Sets $login to a user spec that can log in over TCP, or fails.
resolve_login() {
	if can_login postgres; then
		login=postgres
	elif can_login "$ci_role:$ci_password"; then
		login="$ci_role:$ci_password"
	else
		return 1
	fi
}

psql_admin() { psql -w -X -q -v ON_ERROR_STOP=1 -d "$(url_for "$login" postgres)" "$@"; }

check_db_name() {
	[[ $1 =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "invalid database name: '$1'"
}

cmd_ensure() {
	if ready; then
		say "PostgreSQL is accepting connections on $host:$port"
	else
		if [[ -z $(cluster_version) && -z $(server_version) ]]; then
			say "PostgreSQL is not installed; installing it with apt-get"
			as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
			as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
		fi
		if [[ -z $(cluster_version) ]]; then
			[[ -n $(server_version) ]] || die "PostgreSQL server binaries not found after installing"
			say "creating cluster $(server_version) main"
			as_root pg_createcluster "$(server_version)" main >&2
		fi
		local ver
		ver=$(cluster_version)
		say "starting cluster $ver main"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || say "pg_ctlcluster start failed; waiting anyway"
		wait_ready
		say "PostgreSQL $ver is accepting connections on $host:$port"
	fi
	command -v psql >/dev/null || die "psql not found (install postgresql-client)"

	if resolve_login; then
		say "logging in over TCP as ${login%%:*}"
		return
	fi
	say "no passwordless TCP login for postgres; creating role $ci_role over the unix socket"
	as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres >&2 <<-SQL
		SELECT format('CREATE ROLE %I', '$ci_role')
		WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ci_role') \gexec
		ALTER ROLE $ci_role LOGIN CREATEDB PASSWORD '$ci_password';
	SQL
	resolve_login || die "cannot log in over TCP as postgres or $ci_role; check pg_hba.conf"
	say "logging in over TCP as $ci_role"
}

cmd_create() {
	check_db_name "$1"
	resolve_login || die "cannot log in to PostgreSQL on $host:$port (run: $0 ensure)"
	psql_admin -c "CREATE DATABASE \"$1\""
	say "created database $1"
	url_for "$login" "$1"
}

cmd_drop() {
	check_db_name "$1"
	resolve_login || die "cannot log in to PostgreSQL on $host:$port"
	psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
	say "dropped database $1"
}

cmd_run() {
	[[ $# -gt 0 ]] || die "usage: $0 run CMD [ARGS...]"
	cmd_ensure
	local db url
	db="flowker_test_$$_$(date +%s)"
	# shellcheck disable=SC2064 # expand $db now: it is local to this function
	trap "(cmd_drop $db) || say 'warning: could not drop database $db'" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	url=$(cmd_create "$db")
	FLOWKER_TEST_DATABASE_URL="$url" FLOWKER_REQUIRE_TEST_DB=1 "$@"
}

case "${1:-}" in
ensure) cmd_ensure ;;
create | drop)
	[[ $# -eq 2 ]] || die "usage: $0 $1 DB"
	"cmd_$1" "$2"
	;;
run)
	shift
	cmd_run "$@"
	;;
*) die "usage: $0 ensure | create DB | drop DB | run CMD [ARGS...]" ;;
esac
