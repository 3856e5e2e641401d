#!/bin/sh
# install.sh: put fakecups on TCP port 631 in place of CUPS, under xinetd or systemd.
#
#   sh install.sh [--xinetd | --systemd] [--dry-run] [SERVICE OPTION...]
#                                          install, or bring an install up to date
#   sh install.sh --uninstall [--dry-run]  remove it and give CUPS back its state
#   DESTDIR=DIR sh install.sh [...]        stage every file of both deployments under DIR,
#                                          as a package ships them; no service, no user,
#                                          no CUPS is touched
#
# Run it from the fakecups source tree.  A second run changes nothing and says so.
# The service options (--persona, --printer, --format, --syslog, ...) are kept in
# /etc/default/fakecups; every run reads them back, so a re-run keeps them.
# Settings from the environment:
#   DESTDIR              stage under DIR (never written into any file)
#   FAKECUPS_PYTHON      the interpreter for the launcher (default: /usr/bin/python3, ...)
#   FAKECUPS_ROOT        for tests only: like DESTDIR for every path, but the service commands
#                        still run (the tests put recording stubs of them first on PATH)
#   FAKECUPS_CHECK_PORT  for tests only: the TCP port the self-check talks to (631), and no UDP check
set -eu

PROG=install.sh
LIBDIR=/usr/local/lib/fakecups
LAUNCHER=/usr/local/sbin/fakecups
LOGDIR=/var/log/fakecups
LOG=$LOGDIR/fakecups.log
SPOOL=/var/spool/fakecups
DEFAULTS=/etc/default/fakecups
STATEDIR=/var/lib/fakecups
CUPS_STATE=$STATEDIR/cups-state
XINETD_STATE=$STATEDIR/xinetd-state
SERVICE_USER=fakecups
CUPS_SOCKET=/run/cups/cups.sock
# socket and path units first: either would start cups.service again at the next client;
# cups-browsed holds UDP 631, where fakecups-browse listens
CUPS_UNITS="cups.socket cups.path cups-browsed.service cups.service"
CUPS_SYSV="cups-browsed cups"
# the sockets of the systemd deployment: TCP 631 (one fakecups per connection), UDP 631
SOCKETS="fakecups.socket fakecups-browse.socket"

# Every file this script installs: path, mode, and which install wants it.  Install writes the
# ones for its mode; uninstall removes every one of them that exists.
FILES="
$LIBDIR/fakecups.py 0644 all
$LAUNCHER 0755 all
$DEFAULTS 0644 all
/etc/logrotate.d/fakecups 0644 all
/etc/xinetd.d/fakecups 0644 xinetd
/etc/xinetd.d/fakecups-browse 0644 xinetd
/etc/systemd/system/fakecups.socket 0644 systemd
/etc/systemd/system/fakecups@.service 0644 systemd
/etc/systemd/system/fakecups-browse.socket 0644 systemd
/etc/systemd/system/fakecups-browse.service 0644 systemd
"

usage() {
	cat <<EOF
usage: sh install.sh [--xinetd | --systemd] [--dry-run] [service options]
       sh install.sh --uninstall [--dry-run]

Installs fakecups as the service on port 631, TCP (cupsd's half) and UDP (cups-browsed's half,
the browse-packet sensor): stops and disables CUPS and cups-browsed (and records how they
were, for --uninstall), creates the system user $SERVICE_USER and $LOGDIR, installs
$LIBDIR/fakecups.py (byte-compiled) and the launcher $LAUNCHER, then
either an xinetd service (/etc/xinetd.d/fakecups) or systemd socket activation
(/etc/systemd/system/fakecups.socket), and checks that port 631 answers IPP.

  --xinetd     use xinetd (the default when xinetd is installed)
  --systemd    use systemd socket activation (the default when systemd runs and xinetd is absent)
  --tcp-only   install the TCP half only: no UDP 631 browse-packet sensor, cups-browsed left as
               it is (kept by later runs; --udp adds the UDP half again)
  --udp        install the UDP half too (the default, unless the installed one is TCP only)
  --dry-run    print every action it would take; change nothing
  --uninstall  remove what install put in place, restart and re-enable CUPS as it was before
  --help       this text

Service options, for every fakecups process (kept in $DEFAULTS, which every run reads
back: give only what changes; systemd reads that file itself, xinetd gets them in server_args):
  --persona empty|printer  cupsd with no printers (default), or a printer that keeps every job
                           (in $SPOOL)
  --printer NAME           the printer persona's queue name: letters, digits, - _ . @ +
  --format text|json|classic   the records' format (text)
  --syslog, --no-syslog    also send every record to syslog (off)
  --max-job-bytes N, --max-spool-bytes N   the printer persona's limits
  --reset-options          start from fakecups's defaults instead of the kept options

DESTDIR=DIR stages every file of both deployments (the xinetd stanza and the systemd units, with
the program, $DEFAULTS and the logrotate file) under DIR, as a package ships them, and runs
no service command.
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit "${DIE_STATUS:-1}"; }

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
		differences "$1" "$3"
		return 0
	fi
	say "$verb $target (mode $2)"
	differences "$1" "$3"
	mkdir -p "${target%/*}"
	printf '%s' "$3" >"$target.new"
	chmod "$2" "$target.new"
	mv -f "$target.new" "$target"
}

# differences PATH CONTENT: what replacing the installed PATH with CONTENT changes, shown for the
# files an administrator may have edited (those under /etc): no hand edit is replaced unseen
differences() {
	case $1 in /etc/*) ;; *) return 0 ;; esac
	[ -f "$R$1" ] && [ ! -L "$R$1" ] || return 0
	if ! command -v diff >/dev/null 2>&1; then
		say "  (diff is not installed: cannot show what changes in $R$1)"
	elif printf '%s' "$2" | cmp -s - "$R$1"; then
		say "  (only its mode changes)"
	else
		say "  what changes (- the installed file, + install.sh's):"
		printf '%s' "$2" | diff -u "$R$1" - | sed -e '1,2d' -e 's/^/  /'
	fi
}

# ── the service options ──────────────────────────────────────────────────────────────────
# OPT_*: the options fakecups gets from the installer, empty for fakecups's default (OPT_SYSLOG:
# yes, no or empty).  They are kept in $DEFAULTS, as FAKECUPS_OPTIONS.

# check_value WHERE OPTION VALUE KIND: die unless VALUE is a KIND (persona, format, printer, number)
check_value() {
	case $4 in
	persona) case $3 in empty | printer) return 0 ;; esac; why="one of: empty, printer" ;;
	format) case $3 in text | json | classic) return 0 ;; esac; why="one of: text, json, classic" ;;
	printer)
		case $3 in '' | *[!A-Za-z0-9_.@+-]*) ;; *) [ ${#3} -gt 127 ] || return 0 ;; esac
		why="not a printer name: use 1 to 127 letters, digits and - _ . @ + (no spaces)" ;;
	number)
		case $3 in '' | 0* | *[!0-9]*) ;; *) [ ${#3} -gt 18 ] || return 0 ;; esac
		why="not a number of bytes (a whole number, more than 0)" ;;
	esac
	die "$2 $(quote "$3") ($1): $why"
}

# apply_option WHERE WORD [NEXT...]: set the service option WORD names, as fakecups takes it
# (--name value or --name=value); TOOK = how many words it took.  WHERE: their source, for messages
apply_option() {
	word=$2
	name=${word%%=*}
	TOOK=1
	case $word in
	--syslog | --no-syslog) value= ;;
	--syslog=* | --no-syslog=*) die "$name takes no value ($1)" ;;
	--*=*) value=${word#*=} ;;
	--?*)
		[ $# -gt 2 ] || die "$word needs a value ($1)"
		value=$3
		TOOK=2 ;;
	*) die "$(quote "$word") ($1): not an option" ;;
	esac
	case $name in
	--persona) check_value "$1" "$name" "$value" persona; OPT_PERSONA=$value ;;
	--format) check_value "$1" "$name" "$value" format; OPT_FORMAT=$value ;;
	--printer) check_value "$1" "$name" "$value" printer; OPT_PRINTER=$value ;;
	--max-job-bytes) check_value "$1" "$name" "$value" number; OPT_MAX_JOB=$value ;;
	--max-spool-bytes) check_value "$1" "$name" "$value" number; OPT_MAX_SPOOL=$value ;;
	--syslog) OPT_SYSLOG=yes ;;
	--no-syslog) OPT_SYSLOG=no ;;
	--log | --spool | --user)
		[ "$name $value" != "--log $LOG" ] || return 0 # the installer's own
		die "$name ($1): the installer sets it, not you: the log is $LOG, the printer persona's spool $SPOOL (logrotate and the systemd sandbox are made for them), the user $SERVICE_USER" ;;
	*) die "$name ($1): not an option install.sh knows (see sh install.sh --help)" ;;
	esac
}

# apply_words WHERE WORDS: every option in WORDS, split at blanks (no glob expanded)
apply_words() {
	where=$1
	set -f
	# shellcheck disable=SC2086 # split on purpose: the options are words
	set -- $2
	set +f
	while [ $# -gt 0 ]; do
		apply_option "$where" "$@"
		shift "$TOOK"
	done
}

clear_options() {
	OPT_PERSONA='' OPT_PRINTER='' OPT_FORMAT='' OPT_SYSLOG='' OPT_MAX_JOB='' OPT_MAX_SPOOL='' OPT_WORDS=''
}

# service_options: the options as fakecups's arguments, defaults left out, in a fixed order
service_options() {
	words=
	case $OPT_PERSONA in '' | empty) ;; *) words="$words --persona $OPT_PERSONA" ;; esac
	[ -z "$OPT_PRINTER" ] || words="$words --printer $OPT_PRINTER"
	case $OPT_FORMAT in '' | text) ;; *) words="$words --format $OPT_FORMAT" ;; esac
	[ "$OPT_SYSLOG" != yes ] || words="$words --syslog"
	[ -z "$OPT_MAX_JOB" ] || words="$words --max-job-bytes $OPT_MAX_JOB"
	[ -z "$OPT_MAX_SPOOL" ] || words="$words --max-spool-bytes $OPT_MAX_SPOOL"
	printf '%s' "${words# }"
}

# kept_options FILE: the value of FAKECUPS_OPTIONS in FILE (the last one, as systemd reads it)
kept_options() {
	words=$(sed -n 's/^[[:space:]]*FAKECUPS_OPTIONS=//p' "$1" | tail -n 1)
	case $words in \"*\" | \'*\') words=${words#?}; words=${words%?} ;; esac
	printf '%s' "$words"
}

# load_options: the options kept in $DEFAULTS (none there yet: those an earlier install left in
# server_args or ExecStart, where they used to be added by hand), with the command line's on top
load_options() {
	set -- "$OPT_PERSONA" "$OPT_PRINTER" "$OPT_FORMAT" "$OPT_SYSLOG" "$OPT_MAX_JOB" "$OPT_MAX_SPOOL"
	clear_options
	if [ "$RESET_OPTIONS" = yes ]; then
		say "--reset-options: not reading the kept options"
	elif [ -f "$R$DEFAULTS" ]; then
		apply_words "$R$DEFAULTS" "$(kept_options "$R$DEFAULTS")"
	else
		for file in "$R/etc/xinetd.d/fakecups" "$R/etc/systemd/system/fakecups@.service"; do
			[ -f "$file" ] || continue
			apply_words "$file" "$(sed -n -e 's/^[[:space:]]*server_args[[:space:]]*=//p' \
				-e 's/^[[:space:]]*ExecStart=[[:space:]]*[^[:space:]]*//p' "$file" |
				sed 's/[$]{*FAKECUPS_OPTIONS}*//g' | tr '\n' ' ')"
			[ -n "$(service_options)" ] || continue
			say "keeping the service options added by hand to $file: $(service_options) (from now on in $DEFAULTS)"
			break
		done
	fi
	OPT_PERSONA=${1:-$OPT_PERSONA}
	OPT_PRINTER=${2:-$OPT_PRINTER}
	OPT_FORMAT=${3:-$OPT_FORMAT}
	OPT_SYSLOG=${4:-$OPT_SYSLOG}
	OPT_MAX_JOB=${5:-$OPT_MAX_JOB}
	OPT_MAX_SPOOL=${6:-$OPT_MAX_SPOOL}
	OPT_WORDS=$(service_options)
	if [ -n "$OPT_WORDS" ]; then say "service options: $OPT_WORDS"; else say "service options: none (the defaults)"; fi
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

# xinetd_stanza FILE: the stanza FILE, its server_args followed by the service options (xinetd
# cannot read $DEFAULTS itself), without "flags = IPv6" on a host without IPv6 (the listener
# would fail)
xinetd_stanza() {
	drop=
	[ -e /proc/net/if_inet6 ] || drop='/^[[:space:]]*flags[[:space:]]*=[[:space:]]*IPv6[[:space:]]*$/d'
	sed -e "s|^\([[:space:]]*server_args[[:space:]]*=.*--log $LOG\)\$|\1${OPT_WORDS:+ $OPT_WORDS}|" \
		-e "$drop" "$1"
}

# defaults_file: $DEFAULTS with the options in its FAKECUPS_OPTIONS line, the rest as it is
defaults_file() {
	from=$SRC/default/fakecups
	[ ! -f "$R$DEFAULTS" ] || from=$R$DEFAULTS
	awk -v line="FAKECUPS_OPTIONS=\"$OPT_WORDS\"" '
		/^[[:space:]]*FAKECUPS_OPTIONS=/ { if (!done) print line; done = 1; next }
		{ print }
		END { if (!done) print line }' "$from"
}

# content PATH: what the installed PATH holds
content() {
	case $1 in
	"$LIBDIR/fakecups.py") cat "$SRC/fakecups.py" ;;
	"$LAUNCHER") launcher ;;
	"$DEFAULTS") defaults_file ;;
	/etc/logrotate.d/fakecups) cat "$SRC/contrib/logrotate-fakecups" ;;
	/etc/xinetd.d/*) xinetd_stanza "$SRC/xinetd.d/${1##*/}" ;;
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
		[ "$kind" = all ] || [ "$MODE" = both ] || [ "$kind" = "$MODE" ] || continue
		[ "$UDP" = yes ] || ! udp_file "$path" || continue
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
	# Without docstrings (optimize=2) and column tables (-X no_debug_ranges, Python 3.11+) the
	# .pyc is 15% smaller: about 0.6 ms less CPU per connection.  It keeps the plain .pyc name,
	# so the launcher needs no -OO (which would recompile every standard module it imports).
	run "$PYTHON" -I -X no_debug_ranges -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[3], dfile=sys.argv[2], doraise=True, optimize=2, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)' "$src" "$LIBDIR/fakecups.py" "$pyc"
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

# ensure_dir DIR: DIR exists, mode 0750, the service user's (the log directory, the spool)
ensure_dir() {
	dir=$R$1
	if [ ! -d "$dir" ]; then
		run mkdir -p -m 0750 "$dir"
		[ -d "$dir" ] || { say "would chmod 0750 and chown $SERVICE_USER $dir"; return 0; }
	fi
	[ "$(stat -c %a "$dir")" = 750 ] || run chmod 0750 "$dir"
	if staging; then
		say "DESTDIR: not giving $1 to $SERVICE_USER (chown it on the target)"
	elif ids=$(getent passwd "$SERVICE_USER" | cut -d: -f3,4) && [ -n "$ids" ]; then
		[ "$(stat -c %u:%g "$dir")" = "$ids" ] || run chown "$ids" "$dir"
	else
		say "would chown $SERVICE_USER:$SERVICE_USER $dir"
	fi
}

# ── CUPS out of the way, and back ────────────────────────────────────────────────────────

# state UNIT: "UNIT ACTIVE ENABLED", how UNIT is now: a systemd unit, or sysv-NAME, a SysV service
# (its init script's status; xinetd's is its pid file) and its S links
state() {
	case $1 in
	sysv-*)
		active=inactive
		if [ "$1" = sysv-xinetd ]; then
			[ -z "$(xinetd_pid)" ] || active=active
		elif "$R/etc/init.d/${1#sysv-}" status >/dev/null 2>&1; then
			active=active
		fi
		enabled=disabled
		for link in "$R"/etc/rc[2345].d/S*"${1#sysv-}"; do [ -e "$link" ] && enabled=enabled; done ;;
	*)
		active=$(systemctl is-active "$1" 2>/dev/null) || true
		enabled=$(systemctl is-enabled "$1" 2>/dev/null) || true ;;
	esac
	say "$1 ${active:-inactive} ${enabled:-not-found}"
}

# cups_now: one line per CUPS service found (cupsd, cups-browsed), as state gives it
cups_now() {
	if systemd_running; then
		for unit in $CUPS_UNITS; do
			now=$(state "$unit")
			[ "${now##* }" = not-found ] || say "$now"
		done
	else
		for name in $CUPS_SYSV; do
			[ ! -x "$R/etc/init.d/$name" ] || state "sysv-$name"
		done
	fi
}

xinetd_now() {
	if systemd_running; then state xinetd; else state sysv-xinetd; fi
}

# on STATE: whether an ACTIVE or ENABLED state counts as on
on() {
	case $1 in active | activating | reloading | enabled | enabled-runtime) return 0 ;; esac
	return 1
}

# turn UNIT ACTIVE ENABLED: make UNIT (as state names it) active or not and enabled or not, as
# the states ACTIVE and ENABLED are (say what state said, or inactive and disabled to switch off)
turn() {
	# shellcheck disable=SC2046 # split on purpose: state says three words
	set -- "$1" "$2" "$3" $(state "$1") # UNIT ACTIVE ENABLED UNIT ACTIVE-NOW ENABLED-NOW
	name=${1#sysv-}
	if ! on "$2" && on "$5"; then
		case $1 in sysv-*) service_cmd "$name" stop ;; *) run systemctl stop "$1" ;; esac
	fi
	if on "$3" && ! on "$6"; then
		case $1 in sysv-*) sysv_enable "$name" on ;; *) run systemctl enable "$1" ;; esac
	elif ! on "$3" && on "$6"; then
		case $1 in sysv-*) sysv_enable "$name" off ;; *) run systemctl disable "$1" ;; esac
	fi
	if on "$2" && ! on "$5"; then
		case $1 in sysv-*) service_cmd "$name" start ;; *) run systemctl start "$1" ;; esac
	fi
}

# remember FILE STATES: record how services were before install.sh changed them, once: a later
# run must not take its own changes for how things were
remember() {
	if [ -f "$R$1" ]; then
		say "the earlier state is already recorded in $R$1; keeping it"
	elif [ -n "$2" ]; then
		put "$1" 0644 "$2
"
	fi
}

# restore FILE: every service FILE lists back as it was; FILE removed
restore() {
	[ -f "$R$1" ] || return 0
	while read -r unit active enabled; do
		[ -z "$unit" ] || turn "$unit" "$active" "$enabled" </dev/null
	done <"$R$1"
	run rm -f "$R$1"
}

stop_cups() {
	if staging; then
		say "DESTDIR: not stopping CUPS (the target install stops and disables $CUPS_UNITS or $CUPS_SYSV)"
		return 0
	fi
	now=$(cups_now)
	if [ -z "$now" ]; then say "no CUPS service found"; fi
	if [ -f "$R$CUPS_STATE" ]; then
		# a service first stopped now (cups-browsed, when --udp follows a TCP-only install) is
		# added to the record, as it is now, before it is turned off
		added=$(printf '%s\n' "$now" | while read -r unit rest; do
			[ -z "$unit" ] || grep -q "^$unit " "$R$CUPS_STATE" || printf '%s %s\n' "$unit" "$rest"
		done)
		[ -z "$added" ] || put "$CUPS_STATE" 0644 "$(cat "$R$CUPS_STATE")
$added
"
	fi
	remember "$CUPS_STATE" "$now"
	while read -r unit _; do
		[ -z "$unit" ] || turn "$unit" inactive disabled </dev/null
	done <<EOF
$now
EOF
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
	others=$(ss -Hltunp 'sport = :631' 2>/dev/null | grep -v -e '"xinetd"' -e '"systemd"') || true
	# TCP only: cups-browsed may keep UDP 631
	if [ "$UDP" = no ]; then others=$(printf '%s\n' "$others" | grep -v '^udp') || true; fi
	[ -z "$others" ] || die "port 631 is still in use: $others"
}

# ── xinetd or systemd ────────────────────────────────────────────────────────────────────

# choose_halves: UDP = yes when the UDP half is installed too: as the command line says, else as
# the installed files are (a TCP-only install stays one), else yes
choose_halves() {
	if staging; then UDP=yes; return 0; fi
	if [ -z "$UDP" ]; then
		UDP=yes
		for tcp in /etc/xinetd.d/fakecups /etc/systemd/system/fakecups.socket; do
			udp=$(printf '%s' "$tcp" | sed 's/fakecups\(\.socket\)*$/fakecups-browse\1/')
			if [ -e "$R$tcp" ] && [ ! -e "$R$udp" ]; then
				UDP=no
				say "keeping the TCP half only, as installed (--udp adds the UDP half)"
			fi
		done
	fi
	if [ "$UDP" = no ]; then
		CUPS_UNITS="cups.socket cups.path cups.service"
		CUPS_SYSV=cups
		SOCKETS=fakecups.socket
	fi
}

# udp_file PATH: whether PATH belongs to the UDP half
udp_file() { case $1 in *fakecups-browse*) return 0 ;; esac; return 1; }

# drop_udp_half: a TCP-only install over one with both halves removes the UDP half's files
drop_udp_half() {
	[ "$UDP" = no ] && ! staging || return 0
	if systemd_running && [ -e "$R/etc/systemd/system/fakecups-browse.socket" ]; then
		run systemctl disable --now fakecups-browse.socket
	fi
	for path_mode_kind in $(printf '%s' "$FILES" | tr ' ' '|'); do
		path=${path_mode_kind%%|*}
		if udp_file "$path" && [ -e "$R$path" ]; then
			run rm -f "$R$path"
			CONFIG_CHANGED=yes
		fi
	done
}

# choose_mode: MODE = xinetd or systemd, what a real install activates; staging stages both, as a
# package ships them, whichever the staging host has
choose_mode() {
	if staging; then
		say "DESTDIR: staging the files of both deployments, the xinetd stanza and the systemd units${MODE:+ (--$MODE chooses only what a real install activates)}"
		MODE=both
		return 0
	fi
	if [ -n "$MODE" ]; then return 0; fi
	if command -v xinetd >/dev/null 2>&1; then MODE=xinetd
	elif systemd_running; then MODE=systemd
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
	remember "$XINETD_STATE" "$(xinetd_now)" # if install starts it, uninstall stops it again
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
	for unit in $SOCKETS; do
		[ "$(systemctl is-enabled "$unit" 2>/dev/null)" = enabled ] || run systemctl enable "$unit"
		if ! systemctl is-active "$unit" >/dev/null 2>&1; then run systemctl start "$unit"
		elif [ "$CONFIG_CHANGED" = yes ]; then run systemctl restart "$unit"
		fi
	done
}

# A real CUPS-Get-Printers to 127.0.0.1:631: an IPP answer must come back, and its record appear in
# the log.  Its User-Agent marks it, so that readers of the records can tell it from a client's
# (the classic format records no headers: there, any new record will do).  Then a datagram to
# UDP 631 saying the same, whose record the browse-packet sensor must write (not with
# FAKECUPS_CHECK_PORT: the tests' stand-in server speaks TCP only).
self_check() {
	port=${FAKECUPS_CHECK_PORT:-631}
	udp=$UDP
	[ -z "${FAKECUPS_CHECK_PORT:-}" ] || udp=no
	agent="fakecups-install/$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$SRC/fakecups.py") (self-check)"
	"$PYTHON" -I -B - "$port" "$R$LOG" "$agent" "${OPT_FORMAT:-text}" "$udp" <<'EOF' || die "self-check failed; see above, the xinetd or systemd log, and $R$LOG"
import os, socket, struct, sys, time
port, log, agent, fmt, udp = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
size = lambda: os.path.getsize(log) if os.path.exists(log) else -1
attr = lambda tag, name, value: (struct.pack(">BH", tag, len(name)) + name
                                 + struct.pack(">H", len(value)) + value)
body = (struct.pack(">BBHIB", 2, 0, 0x4002, 631, 1)       # CUPS-Get-Printers, request-id 631
        + attr(0x47, b"attributes-charset", b"utf-8")
        + attr(0x48, b"attributes-natural-language", b"en") + b"\x03")
request = (b"POST / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: %s\r\nContent-Type: application/ipp\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (agent.encode(), len(body), body))
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
mark = b"" if fmt == "classic" else agent.encode()
def new_records():
    if size() <= before:
        return b""
    with open(log, "rb") as f:
        f.seek(max(before, 0))
        return f.read()
def found():
    new = new_records()
    return bool(new) and mark in new
deadline = time.monotonic() + 5
while not found() and time.monotonic() < deadline:
    time.sleep(0.1)
if size() <= before:
    sys.exit("self-check: an IPP answer came, but no new record in %s" % log)
if not found():
    sys.exit("self-check: an IPP answer came, but no record in %s with User-Agent %s" % (log, agent))
print("self-check: 127.0.0.1:%d answered CUPS-Get-Printers (IPP status 0x%04x); %s has its record "
      "(User-Agent: %s)" % (port, struct.unpack(">H", payload[2:4])[0], log, agent))
if udp != "yes":
    sys.exit(0)
mark, before = agent.encode(), size()
for attempt in range(3):                          # the sensor starts with the first datagram
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(mark + b"\n", ("127.0.0.1", port))
    deadline = time.monotonic() + 3
    while not found() and time.monotonic() < deadline:
        time.sleep(0.1)
    if found():
        break
else:
    sys.exit("self-check: no record in %s of the datagram sent to UDP 127.0.0.1:%d" % (log, port))
print("self-check: UDP 127.0.0.1:%d: the browse-packet sensor recorded the datagram %r" % (port, agent))
EOF
}

# ── install, uninstall ───────────────────────────────────────────────────────────────────

do_install() {
	[ -f "$SRC/fakecups.py" ] || die "fakecups.py not found next to install.sh (in $SRC): run install.sh from the fakecups source tree"
	choose_mode
	if [ "$MODE" = systemd ] && ! systemd_running; then
		die "systemd is not running here: use --xinetd (install xinetd first), or DESTDIR=DIR to stage"
	fi
	find_python
	choose_halves
	load_options
	case $MODE in
	xinetd) other=/etc/systemd/system/fakecups.socket ;;
	systemd) other=/etc/xinetd.d/fakecups ;;
	both) other= ;;
	esac
	[ -z "$other" ] || [ ! -e "$R$other" ] || die "fakecups is already installed the other way ($R$other exists): run sh install.sh --uninstall first"
	stop_cups
	check_cups_gone
	ensure_user
	ensure_dir "$LOGDIR"
	if [ "$OPT_PERSONA" = printer ]; then ensure_dir "$SPOOL"; fi
	drop_udp_half
	install_files
	compile_module
	if staging; then
		say "DESTDIR: staged under $R; on the target, sh install.sh --xinetd or --systemd (or the package's own scripts) also stops CUPS, creates the user $SERVICE_USER, starts the service and checks port 631"
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
	else
		if staging; then done_as="staged under $R"; else done_as="installed ($MODE)"; fi
		if [ "$CHANGED" = 0 ]; then
			say "nothing to do: fakecups is already $done_as and up to date"
		else
			say "fakecups $done_as: $CHANGED change(s)"
		fi
	fi
	say "records: $LOG; watch them with: tail -F $LOG"
	if [ "$MODE" = systemd ]; then say "connections: journalctl -f -u 'fakecups@*' -u fakecups.socket"; fi
}

do_uninstall() {
	if [ -f "$R$DEFAULTS" ] && words=$(kept_options "$R$DEFAULTS") && [ -n "$words" ]; then
		say "the service options were: $words (sh install.sh $words brings them back)"
	fi
	had_units=no
	had_stanza=no
	[ ! -e "$R/etc/systemd/system/fakecups.socket" ] || had_units=yes
	[ ! -e "$R/etc/xinetd.d/fakecups" ] || had_stanza=yes
	if [ "$had_units" = yes ] && ! staging && systemd_running; then
		for unit in $SOCKETS; do
			[ ! -e "$R/etc/systemd/system/$unit" ] || run systemctl disable --now "$unit"
		done
		# the UDP sensor may still be waiting out its idle time
		if systemctl is-active fakecups-browse.service >/dev/null 2>&1; then run systemctl stop fakecups-browse.service; fi
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
	if [ -d "$R$SPOOL" ] && [ -z "$(ls -A "$R$SPOOL")" ]; then run rmdir "$R$SPOOL"; fi
	if ! staging; then
		if [ "$had_units" = yes ] && systemd_running; then run systemctl daemon-reload; fi
		if [ "$had_stanza" = yes ]; then
			if systemd_running && systemctl is-active xinetd >/dev/null 2>&1; then
				run systemctl reload xinetd
			elif pid=$(xinetd_pid) && [ -n "$pid" ]; then
				run kill -HUP "$pid"
			fi
			restore "$XINETD_STATE"
			[ "$DRY_RUN" = yes ] || sleep 1 # let xinetd close port 631 before CUPS wants it
		fi
		if [ -f "$R$CUPS_STATE" ]; then restore "$CUPS_STATE"; else say "no CUPS state recorded: leaving CUPS as it is"; fi
		if [ -d "$R$STATEDIR" ] && [ -z "$(ls -A "$R$STATEDIR")" ]; then run rmdir "$R$STATEDIR"; fi
	fi
	if [ "$DRY_RUN" = yes ]; then
		say "dry run: $CHANGED change(s) would be made; nothing was changed"
	elif [ "$CHANGED" = 0 ]; then
		say "nothing to remove: fakecups is not installed"
	else
		say "fakecups removed: $CHANGED change(s)"
	fi
	if [ -d "$R$SPOOL" ]; then
		say "kept $R$SPOOL (the printer persona's jobs); to remove it: rm -r $R$SPOOL"
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
	RESET_OPTIONS=no
	UDP=
	clear_options
	service_args=no
	DIE_STATUS=2 # a mistake on the command line
	while [ $# -gt 0 ]; do
		TOOK=1
		case $1 in
		--help | -h) usage; exit 0 ;;
		--dry-run | -n) DRY_RUN=yes ;;
		--uninstall) ACTION=uninstall ;;
		--xinetd | --systemd)
			[ -z "$MODE" ] || [ "$MODE" = "${1#--}" ] || die "choose one of --xinetd and --systemd"
			MODE=${1#--} ;;
		--reset-options) RESET_OPTIONS=yes service_args=yes ;;
		--tcp-only) UDP=no ;;
		--udp) UDP=yes ;;
		*) apply_option "the command line" "$@"; service_args=yes ;;
		esac
		shift "$TOOK"
	done
	if [ "$ACTION" = uninstall ] && [ "$service_args" = yes ]; then die "service options go with an install, not with --uninstall"; fi
	DIE_STATUS=1
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
