#!/bin/sh
# install.sh: put fakecups on TCP port 631 in place of CUPS, under xinetd or systemd.
#
#   sh install.sh [--xinetd | --systemd] [--dry-run]   install, or bring an install up to date
#   sh install.sh --uninstall [--dry-run]              remove it and give CUPS back its state
#   DESTDIR=DIR sh install.sh [...]                    stage the files under DIR; no service,
#                                                      no user, no CUPS is touched
#
# Run it from the fakecups source tree.  A second run changes nothing and says so.
# Settings from the environment:
#   DESTDIR              stage under DIR (never written into any file)
#   FAKECUPS_PYTHON      the interpreter for the launcher (default: /usr/bin/python3, ...)
#   FAKECUPS_ROOT        for tests only: like DESTDIR for every path, but the service commands
#                        still run (the tests put recording stubs of them first on PATH)
#   FAKECUPS_CHECK_PORT  for tests only: the port the self-check talks to (631)
set -eu

PROG=install.sh
LIBDIR=/usr/local/lib/fakecups
LAUNCHER=/usr/local/sbin/fakecups
LOGDIR=/var/log/fakecups
LOG=$LOGDIR/fakecups.log
STATEDIR=/var/lib/fakecups
CUPS_STATE=$STATEDIR/cups-state
SERVICE_USER=fakecups
CUPS_SOCKET=/run/cups/cups.sock
# socket and path units first: either would start cups.service again at the next client
CUPS_UNITS="cups.socket cups.path cups.service"

# Every file this script installs: path, mode, and which install wants it.  Install writes the
# ones for its mode; uninstall removes every one of them that exists.
FILES="
$LIBDIR/fakecups.py 0644 all
$LAUNCHER 0755 all
/etc/logrotate.d/fakecups 0644 all
/etc/xinetd.d/fakecups 0644 xinetd
/etc/systemd/system/fakecups.socket 0644 systemd
/etc/systemd/system/fakecups@.service 0644 systemd
"

usage() {
	cat <<EOF
usage: sh install.sh [--xinetd | --systemd] [--dry-run]
       sh install.sh --uninstall [--dry-run]

Installs fakecups as the service on TCP port 631: stops and disables CUPS (and records how it
was, for --uninstall), creates the system user $SERVICE_USER and $LOGDIR, installs
$LIBDIR/fakecups.py (byte-compiled) and the launcher $LAUNCHER, then
either an xinetd service (/etc/xinetd.d/fakecups) or systemd socket activation
(/etc/systemd/system/fakecups.socket), and checks that port 631 answers IPP.

  --xinetd     use xinetd (the default when xinetd is installed)
  --systemd    use systemd socket activation (the default when systemd runs and xinetd is absent)
  --dry-run    print every action it would take; change nothing
  --uninstall  remove what install put in place, restart and re-enable CUPS as it was before
  --help       this text

DESTDIR=DIR stages the files under DIR and runs no service command.
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }

# quote ARG: ARG as the shell would need it typed, for messages
quote() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

# run CMD ARG...: one change to the system; under --dry-run only shown, never executed
run() {
	line=
	for arg in "$@"; do line="$line${line:+ }$(quote "$arg")"; done
	CHANGED=$((CHANGED + 1))
	if [ "$DRY_RUN" = yes ]; then
		say "would run: $line"
	else
		say "+ $line"
		"$@"
	fi
}

staging() { [ -n "${DESTDIR:-}" ]; }
systemd_running() { [ -d "$R/run/systemd/system" ]; }

# put PATH MODE CONTENT: make $R$PATH hold exactly CONTENT with MODE; compare before replacing
put() {
	target=$R$1
	if [ -f "$target" ] && [ ! -L "$target" ] && [ "$(stat -c %a "$target")" = "${2#0}" ] &&
		printf '%s' "$3" | cmp -s - "$target"; then
		return 0
	fi
	CHANGED=$((CHANGED + 1))
	if [ -e "$target" ]; then verb=replace; else verb=create; fi
	if [ "$DRY_RUN" = yes ]; then
		say "would $verb $target (mode $2)"
		return 0
	fi
	say "$verb $target (mode $2)"
	mkdir -p "${target%/*}"
	printf '%s' "$3" >"$target.new"
	chmod "$2" "$target.new"
	mv -f "$target.new" "$target"
}

# ── what gets installed ──────────────────────────────────────────────────────────────────

find_python() {
	# The launcher's #! line must name a real interpreter: not /usr/bin/env, not a version
	# manager's shim (pyenv's python3 is a shell script under /root), both of which would
	# depend on the PATH and the home directory of whoever starts the service.
	for candidate in ${FAKECUPS_PYTHON:-/usr/bin/python3 /usr/local/bin/python3 /bin/python3}; do
		case $candidate in /*) ;; *) continue ;; esac
		[ -f "$candidate" ] || continue
		[ -x "$candidate" ] || continue
		[ "$(head -c 2 "$candidate")" != '#!' ] || continue
		"$candidate" -I -B -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null || continue
		PYTHON=$candidate
		return 0
	done
	die "no usable Python 3.9+ (an executable binary, not a script) at ${FAKECUPS_PYTHON:-/usr/bin/python3,
/usr/local/bin/python3 or /bin/python3}: install python3 (apt-get install python3-minimal,
dnf install python3) or name one with FAKECUPS_PYTHON=/path/to/python3"
}

launcher() {
	# -I: no environment or user site; -S: no site module at all (fakecups needs nothing
	# outside the standard library, and site costs milliseconds per connection).  os._exit
	# skips the interpreter's teardown, another millisecond: every record is written by then.
	printf '#!%s -IS\n' "$PYTHON"
	printf 'import os, sys; sys.path.insert(0, "%s"); import fakecups; os._exit(fakecups.main(sys.argv[1:]))\n' "$LIBDIR"
}

xinetd_stanza() {
	if [ -e /proc/net/if_inet6 ]; then
		cat "$SRC/xinetd.d/fakecups"
	else # no IPv6 here: an IPv6 listener could not be created at all
		sed '/^[[:space:]]*flags[[:space:]]*=[[:space:]]*IPv6[[:space:]]*$/d' "$SRC/xinetd.d/fakecups"
	fi
}

# content PATH: what the installed PATH holds
content() {
	case $1 in
	"$LIBDIR/fakecups.py") cat "$SRC/fakecups.py" ;;
	"$LAUNCHER") launcher ;;
	/etc/logrotate.d/fakecups) cat "$SRC/contrib/logrotate-fakecups" ;;
	/etc/xinetd.d/fakecups) xinetd_stanza ;;
	/etc/systemd/system/*) cat "$SRC/systemd/${1##*/}" ;;
	*) return 1 ;;
	esac
}

install_files() {
	for path_mode_kind in $(printf '%s' "$FILES" | tr ' ' '|'); do
		path=${path_mode_kind%%|*}
		kind=${path_mode_kind##*|}
		mode=${path_mode_kind#*|}
		mode=${mode%|*}
		[ "$kind" = all ] || [ "$kind" = "$MODE" ] || continue
		text=$(content "$path" && echo x) || die "cannot read the source of $path in $SRC"
		before=$CHANGED
		put "$path" "$mode" "${text%x}"
		[ "$CHANGED" != "$before" ] || continue
		if [ "$kind" != all ]; then CONFIG_CHANGED=yes; fi
		if [ "$path" = "$LIBDIR/fakecups.py" ]; then MODULE_CHANGED=yes; fi
	done
}

# A script is compiled afresh at every start; a module is loaded from __pycache__, so it is
# compiled here, by the launcher's interpreter, with the installed path as its file name.
compile_module() {
	src=$R$LIBDIR/fakecups.py
	if pyc=$("$PYTHON" -I -B - "$src" <<'EOF'
import importlib.util, os, sys
source = sys.argv[1]
pyc = importlib.util.cache_from_source(source)
print(pyc)
try:
    with open(pyc, "rb") as f:
        head = f.read(16)
    st = os.stat(source)
except OSError:
    sys.exit(1)
fresh = (head[:4] == importlib.util.MAGIC_NUMBER and head[4:8] == bytes(4)
         and int.from_bytes(head[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
         and int.from_bytes(head[12:16], "little") == st.st_size & 0xFFFFFFFF)
sys.exit(0 if fresh else 1)
EOF
	) && [ "$MODULE_CHANGED" = no ]; then
		return 0
	fi
	run "$PYTHON" -I -c 'import py_compile, sys; py_compile.compile(sys.argv[1], dfile=sys.argv[2], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)' "$src" "$LIBDIR/fakecups.py"
	if [ "$DRY_RUN" != yes ]; then chmod 0644 "$pyc"; fi
}

ensure_user() {
	if getent passwd "$SERVICE_USER" >/dev/null 2>&1; then return 0; fi
	if staging; then
		say "DESTDIR: not creating the system user $SERVICE_USER (the target needs it)"
		return 0
	fi
	shell=/usr/sbin/nologin
	[ -x "$shell" ] || shell=/sbin/nologin
	[ -x "$shell" ] || shell=/bin/false
	if command -v useradd >/dev/null 2>&1; then
		run useradd --system --user-group --no-create-home --home-dir /nonexistent --shell "$shell" "$SERVICE_USER"
	elif command -v adduser >/dev/null 2>&1; then
		run adduser --system --group --no-create-home --home /nonexistent --shell "$shell" "$SERVICE_USER"
	else
		die "neither useradd nor adduser found: create the system user $SERVICE_USER, then run again"
	fi
}

ensure_logdir() {
	dir=$R$LOGDIR
	if [ ! -d "$dir" ]; then
		run mkdir -p -m 0750 "$dir"
		[ -d "$dir" ] || { say "would chmod 0750 and chown $SERVICE_USER $dir"; return 0; }
	fi
	[ "$(stat -c %a "$dir")" = 750 ] || run chmod 0750 "$dir"
	if staging; then
		say "DESTDIR: not giving $LOGDIR to $SERVICE_USER (chown it on the target)"
	elif ids=$(getent passwd "$SERVICE_USER" | cut -d: -f3,4) && [ -n "$ids" ]; then
		[ "$(stat -c %u:%g "$dir")" = "$ids" ] || run chown "$ids" "$dir"
	else
		say "would chown $SERVICE_USER:$SERVICE_USER $dir"
	fi
}

# ── CUPS out of the way, and back ────────────────────────────────────────────────────────

# cups_now: one line per CUPS service found: NAME RUNNING ENABLED
cups_now() {
	if systemd_running; then
		for unit in $CUPS_UNITS; do
			active=$(systemctl is-active "$unit" 2>/dev/null) || true
			enabled=$(systemctl is-enabled "$unit" 2>/dev/null) || true
			say "$unit ${active:-inactive} ${enabled:-not-found}"
		done
	elif [ -x "$R/etc/init.d/cups" ]; then
		running=stopped
		if "$R/etc/init.d/cups" status >/dev/null 2>&1; then running=active; fi
		enabled=disabled
		for link in "$R"/etc/rc[2345].d/S*cups; do [ -e "$link" ] && enabled=enabled; done
		say "sysv-cups $running $enabled"
	fi
}

stop_cups() {
	if staging; then
		say "DESTDIR: not stopping CUPS (the target install stops and disables $CUPS_UNITS or /etc/init.d/cups)"
		return 0
	fi
	now=$(cups_now)
	if [ -z "$now" ]; then say "no CUPS service found"; fi
	if [ -f "$R$CUPS_STATE" ]; then
		say "CUPS's earlier state is already recorded in $R$CUPS_STATE; keeping it"
	elif [ -n "$now" ]; then
		put "$CUPS_STATE" 0644 "$now
"
	fi
	while read -r name active enabled; do
		[ -n "$name" ] || continue
		case $active in active | activating | reloading) stop=yes ;; *) stop=no ;; esac
		case $name in
		sysv-cups)
			if [ "$stop" = yes ]; then service_cmd cups stop; fi
			if [ "$enabled" = enabled ]; then sysv_enable cups off; fi ;;
		*)
			if [ "$stop" = yes ]; then run systemctl stop "$name"; fi
			case $enabled in enabled | enabled-runtime) run systemctl disable "$name" ;; esac ;;
		esac
	done <<EOF
$now
EOF
}

restore_cups() {
	state=$R$CUPS_STATE
	if [ ! -f "$state" ]; then
		say "no CUPS state recorded: leaving CUPS as it is"
		return 0
	fi
	while read -r name active enabled; do
		case $name in
		'') continue ;;
		sysv-cups)
			if [ "$enabled" = enabled ]; then sysv_enable cups on; fi
			if [ "$active" = active ]; then service_cmd cups start; fi ;;
		*)
			case $enabled in enabled | enabled-runtime) run systemctl enable "$name" ;; esac
			case $active in active | activating | reloading) run systemctl start "$name" ;; esac ;;
		esac
	done <"$state"
	run rm -f "$state"
	if [ -d "$R$STATEDIR" ]; then run rmdir "$R$STATEDIR"; fi
}

# service_cmd NAME ACTION: start or stop a SysV service
service_cmd() {
	if command -v service >/dev/null 2>&1; then run service "$1" "$2"
	elif [ -x "$R/etc/init.d/$1" ]; then run "$R/etc/init.d/$1" "$2"
	else die "cannot $2 $1: neither service nor /etc/init.d/$1 found"
	fi
}

# sysv_enable NAME on|off
sysv_enable() {
	if command -v update-rc.d >/dev/null 2>&1; then
		if [ "$2" = on ]; then run update-rc.d "$1" enable; else run update-rc.d "$1" disable; fi
	elif command -v chkconfig >/dev/null 2>&1; then run chkconfig "$1" "$2"
	else warn "cannot turn $1 $2 at boot: neither update-rc.d nor chkconfig found"
	fi
}

# CUPS must be gone from port 631 and from its domain socket: while the socket exists, local
# clients (lpstat, lp) use it and never reach port 631.
check_cups_gone() {
	if staging; then return 0; fi
	if [ "$DRY_RUN" = yes ]; then
		say "would check: nothing but fakecups on port 631, no CUPS socket at $CUPS_SOCKET"
		return 0
	fi
	if [ -S "$R$CUPS_SOCKET" ]; then
		if "$PYTHON" -I -B -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$R$CUPS_SOCKET" 2>/dev/null; then
			die "something still listens on $CUPS_SOCKET (cupsd?): stop it first; local clients would never reach fakecups"
		fi
		run rm -f "$R$CUPS_SOCKET" # left behind by a stopped cups.socket; it would still steer clients
	fi
	if ! command -v ss >/dev/null 2>&1; then
		warn "ss not found: cannot check that nothing but fakecups holds port 631"
		return 0
	fi
	others=$(ss -Hltnp 'sport = :631' 2>/dev/null | grep -v -e '"xinetd"' -e '"systemd"') || true
	[ -z "$others" ] || die "port 631 is still in use: $others"
}

# ── xinetd or systemd ────────────────────────────────────────────────────────────────────

choose_mode() {
	if [ -n "$MODE" ]; then return 0; fi
	if command -v xinetd >/dev/null 2>&1; then MODE=xinetd
	elif systemd_running; then MODE=systemd
	elif staging; then MODE=xinetd # the staging host need not run either; --systemd for units
	else die "neither xinetd is installed nor does systemd run here: install xinetd (apt-get install xinetd, dnf install xinetd) or run on a systemd host"
	fi
	say "mode: $MODE"
}

xinetd_pid() {
	for file in "$R/run/xinetd.pid" "$R/var/run/xinetd.pid"; do
		[ -f "$file" ] || continue
		pid=$(cat "$file")
		case $pid in '' | *[!0-9]*) continue ;; esac
		if kill -0 "$pid" 2>/dev/null; then say "$pid"; return 0; fi
	done
}

activate_xinetd() {
	if systemd_running; then
		[ "$(systemctl is-enabled xinetd 2>/dev/null)" = enabled ] || run systemctl enable xinetd
		if ! systemctl is-active xinetd >/dev/null 2>&1; then run systemctl start xinetd
		elif [ "$CONFIG_CHANGED" = yes ]; then run systemctl reload xinetd
		fi
	elif pid=$(xinetd_pid) && [ -n "$pid" ]; then
		if [ "$CONFIG_CHANGED" = yes ]; then run kill -HUP "$pid"; fi
	else
		service_cmd xinetd start
	fi
}

activate_systemd() {
	if [ "$CONFIG_CHANGED" = yes ]; then run systemctl daemon-reload; fi
	[ "$(systemctl is-enabled fakecups.socket 2>/dev/null)" = enabled ] || run systemctl enable fakecups.socket
	if ! systemctl is-active fakecups.socket >/dev/null 2>&1; then run systemctl start fakecups.socket
	elif [ "$CONFIG_CHANGED" = yes ]; then run systemctl restart fakecups.socket
	fi
}

# A real CUPS-Get-Printers to 127.0.0.1:631: an IPP answer must come back and a record appear.
self_check() {
	port=${FAKECUPS_CHECK_PORT:-631}
	"$PYTHON" -I -B - "$port" "$R$LOG" <<'EOF' || die "self-check failed; see above, the xinetd or systemd log, and $R$LOG"
import os, socket, struct, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
size = lambda: os.path.getsize(log) if os.path.exists(log) else -1
attr = lambda tag, name, value: (struct.pack(">BH", tag, len(name)) + name
                                 + struct.pack(">H", len(value)) + value)
body = (struct.pack(">BBHIB", 2, 0, 0x4002, 631, 1)       # CUPS-Get-Printers, request-id 631
        + attr(0x47, b"attributes-charset", b"utf-8")
        + attr(0x48, b"attributes-natural-language", b"en") + b"\x03")
request = (b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
before, deadline, data = size(), time.monotonic() + 10, b""
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            while len(data) < 1 << 20 and (chunk := sock.recv(65536)):
                data += chunk
        break
    except ConnectionRefusedError as error:     # xinetd or systemd may be starting still
        if time.monotonic() > deadline:
            sys.exit("self-check: 127.0.0.1:%d: %s" % (port, error))
        time.sleep(0.2)
    except OSError as error:
        sys.exit("self-check: 127.0.0.1:%d: %s after %d bytes" % (port, error, len(data)))
head, _, payload = data.partition(b"\r\n\r\n")
if (not head.startswith(b"HTTP/1.1 200 ") or b"\r\ncontent-type: application/ipp" not in head.lower()
        or payload[4:8] != struct.pack(">I", 631)):
    sys.exit("self-check: 127.0.0.1:%d gave no IPP answer: %r" % (port, data[:200]))
deadline = time.monotonic() + 5
while size() <= before and time.monotonic() < deadline:
    time.sleep(0.1)
if size() <= before:
    sys.exit("self-check: an IPP answer came, but no new record in %s" % log)
print("self-check: 127.0.0.1:%d answered CUPS-Get-Printers (IPP status 0x%04x) and %s has a new record"
      % (port, struct.unpack(">H", payload[2:4])[0], log))
EOF
	if command -v lpstat >/dev/null 2>&1; then
		said=$(lpstat -h "127.0.0.1:$port" -v 2>&1) || true
		say "lpstat -h 127.0.0.1:$port -v says: $said"
	fi
}

# ── install, uninstall ───────────────────────────────────────────────────────────────────

do_install() {
	[ -f "$SRC/fakecups.py" ] || die "fakecups.py not found next to install.sh (in $SRC): run install.sh from the fakecups source tree"
	choose_mode
	if [ "$MODE" = systemd ] && ! staging && ! systemd_running; then
		die "systemd is not running here: use --xinetd (install xinetd first), or DESTDIR=DIR to stage"
	fi
	find_python
	if [ "$MODE" = xinetd ]; then other=/etc/systemd/system/fakecups.socket; else other=/etc/xinetd.d/fakecups; fi
	[ ! -e "$R$other" ] || die "fakecups is already installed the other way ($R$other exists): run sh install.sh --uninstall first"
	stop_cups
	check_cups_gone
	ensure_user
	ensure_logdir
	install_files
	compile_module
	if staging; then
		say "DESTDIR: staged under $R; on the target, the install would also start the $MODE service and check port 631"
	else
		"activate_$MODE"
		if [ "$DRY_RUN" = yes ]; then
			say "would check: CUPS-Get-Printers to 127.0.0.1:${FAKECUPS_CHECK_PORT:-631} gets an IPP answer and a new record in $LOG"
		else
			self_check
		fi
	fi
	if [ "$DRY_RUN" = yes ]; then
		say "dry run: $CHANGED change(s) would be made; nothing was changed"
	elif [ "$CHANGED" = 0 ]; then
		say "nothing to do: fakecups is already installed ($MODE) and up to date"
	else
		say "fakecups installed ($MODE): $CHANGED change(s)"
	fi
	say "records: $LOG; watch them with: tail -F $LOG"
	if [ "$MODE" = systemd ]; then say "connections: journalctl -f -u 'fakecups@*' -u fakecups.socket"; fi
}

do_uninstall() {
	had_units=no
	had_stanza=no
	[ ! -e "$R/etc/systemd/system/fakecups.socket" ] || had_units=yes
	[ ! -e "$R/etc/xinetd.d/fakecups" ] || had_stanza=yes
	if [ "$had_units" = yes ] && ! staging && systemd_running; then
		run systemctl disable --now fakecups.socket
	fi
	for path_mode_kind in $(printf '%s' "$FILES" | tr ' ' '|'); do
		path=$R${path_mode_kind%%|*}
		if [ -e "$path" ] || [ -L "$path" ]; then run rm -f "$path"; fi
	done
	for pyc in "$R$LIBDIR"/__pycache__/fakecups.*.pyc; do
		if [ -e "$pyc" ]; then run rm -f "$pyc"; fi
	done
	for dir in "$R$LIBDIR/__pycache__" "$R$LIBDIR"; do
		if [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then run rmdir "$dir"; fi
	done
	if ! staging; then
		if [ "$had_units" = yes ] && systemd_running; then run systemctl daemon-reload; fi
		if [ "$had_stanza" = yes ]; then
			if systemd_running && systemctl is-active xinetd >/dev/null 2>&1; then
				run systemctl reload xinetd
			elif pid=$(xinetd_pid) && [ -n "$pid" ]; then
				run kill -HUP "$pid"
			fi
			[ "$DRY_RUN" = yes ] || sleep 1 # let xinetd close port 631 before CUPS wants it
		fi
		restore_cups
	fi
	if [ "$DRY_RUN" = yes ]; then
		say "dry run: $CHANGED change(s) would be made; nothing was changed"
	elif [ "$CHANGED" = 0 ]; then
		say "nothing to remove: fakecups is not installed"
	else
		say "fakecups removed: $CHANGED change(s)"
	fi
	if [ -d "$R$LOGDIR" ]; then
		say "kept $R$LOGDIR (the records) and the user $SERVICE_USER; to remove them: rm -r $R$LOGDIR; userdel $SERVICE_USER"
	fi
}

main() {
	ACTION=install
	MODE=
	DRY_RUN=no
	CHANGED=0
	CONFIG_CHANGED=no
	MODULE_CHANGED=no
	for arg in "$@"; do
		case $arg in
		--help | -h) usage; exit 0 ;;
		--dry-run | -n) DRY_RUN=yes ;;
		--uninstall) ACTION=uninstall ;;
		--xinetd | --systemd)
			[ -z "$MODE" ] || [ "$MODE" = "${arg#--}" ] || { say "$PROG: choose one of --xinetd and --systemd" >&2; exit 2; }
			MODE=${arg#--} ;;
		*) printf '%s: unknown option: %s\n' "$PROG" "$arg" >&2; usage >&2; exit 2 ;;
		esac
	done
	if [ -n "${DESTDIR:-}" ] && [ -n "${FAKECUPS_ROOT:-}" ]; then die "set DESTDIR or FAKECUPS_ROOT, not both"; fi
	R=${DESTDIR:-${FAKECUPS_ROOT:-}}
	case $R in '' | /*) ;; *) R=$(pwd)/$R ;; esac
	while [ "${R%/}" != "$R" ]; do R=${R%/}; done
	if [ "$(id -u)" != 0 ] && [ "$DRY_RUN" != yes ] && ! staging; then
		die "run as root (sudo sh install.sh), or see what it would do with --dry-run, or stage the files with DESTDIR=DIR"
	fi
	umask 022
	SRC=$(cd "$(dirname "$0")" && pwd -P)
	"do_$ACTION"
}

main "$@"
