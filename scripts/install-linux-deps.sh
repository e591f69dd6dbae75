#!/usr/bin/env bash
# Debian/Ubuntu packages Orchestray needs on Linux, from a bare system on (Debian 12, Ubuntu 24.04):
#  - Python with venv (a fresh Debian has no python3, and Debian's python3 comes without venv/ensurepip);
#  - to show a tray icon WITH a menu (GTK + AppIndicator typelibs) and to build PyGObject / dbus-python;
#  - with --test, also what the real-desktop tests drive: an X server (Xvfb), two tray hosts (trayer for
#    XEmbed; status-notifier-watcher + gtk-sni-tray-standalone for StatusNotifierItem, as KDE/GNOME/Ubuntu),
#    a notification daemon (dunst), xdotool and ImageMagick; for "Focus terminal" a window manager that
#    honours EWMH (openbox), a terminal (xterm) and tmux; xauth for xvfb-run (only a recommendation of xvfb,
#    and this script installs without recommendations); and OpenSSH (server and client) for the tests of sessions
#    on another host, which start their own sshd on 127.0.0.1 (the package's own sshd service is not needed).
# Runs apt-get through sudo when not root. Safe to run again.
set -euo pipefail
runtime=(python3 python3-venv ca-certificates
         gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 libgirepository1.0-dev libcairo2-dev pkg-config
         libdbus-1-dev libnotify-bin dbus python3-dev gcc)
testing=(xvfb xauth xdotool imagemagick x11-utils trayer dunst dbus-x11 systemd git binutils
         haskell-status-notifier-item-utils haskell-gtk-sni-tray-utils libharfbuzz-gobject0 openbox xterm tmux
         openssh-server openssh-client)
packages=("${runtime[@]}")
if [ "${1:-}" = "--test" ]; then packages+=("${testing[@]}"); fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-linux-deps: run as root, or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then echo "all Linux packages present"; exit 0; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
