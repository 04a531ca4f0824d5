#!/bin/sh
# mkdeb.sh VERSION - build build-deb/correio_VERSION_ARCH.deb from this tree
# (called by `make deb`): a build with Debian's hardening flags in
# build-deb/, `make install` of it into a staged tree (PREFIX=/usr), the
# package's own files (maintainer scripts, conffiles, copyright,
# changelog, md5sums, control with the shared-library dependencies that
# dpkg-shlibdeps finds), then dpkg-deb --build.  Installs nothing here.
set -eu
# a build of its own: nothing of a calling make's variables (e.g. the
# sanitizer flags of `make asan`) reaches it
unset MAKEFLAGS MFLAGS MAKELEVEL || true

version=${1:?usage: mkdeb.sh VERSION}
top=$(pwd)
out=build-deb
pkg=$out/pkg
arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-correio developers <correio@example.org>}
deb=$out/correio_${version}_${arch}.deb

export DEB_BUILD_MAINT_OPTIONS=hardening=+all
make --no-print-directory BUILD=$out PREFIX=/usr CFLAGS="$(dpkg-buildflags --get CFLAGS)" \
	CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" $out/correio

rm -rf "$pkg"
make --no-print-directory BUILD=$out DESTDIR="$top/$pkg" PREFIX=/usr \
	UNITDIR=/lib/systemd/system install
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	"$pkg/usr/sbin/correio"
gzip -9n "$pkg/usr/share/man/man5/correio.conf.5" "$pkg/usr/share/man/man8/correio.8"

doc=$pkg/usr/share/doc/correio
install -d -m 0755 "$doc"
install -m 0644 packaging/copyright "$doc/copyright"
# the date of the last commit, so that two builds of a commit are alike
when=$(git log -1 --format=%ct 2>/dev/null || date +%s)
describe=$(git describe --tags --always --dirty 2>/dev/null || echo "$version")
printf 'correio (%s) unstable; urgency=medium\n\n  * correio %s, built from %s.\n\n -- %s  %s\n' \
	"$version" "$version" "$describe" "$maintainer" "$(date -u -R -d "@$when")" |
	gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

install -d -m 0755 "$pkg/DEBIAN"
install -m 0755 packaging/postinst packaging/prerm packaging/postrm "$pkg/DEBIAN/"
printf '/etc/correio/correio.conf\n/etc/logrotate.d/correio\n' > "$pkg/DEBIAN/conffiles"

# dpkg-shlibdeps wants a debian/control beside it
mkdir -p "$out/shlibs/debian"
printf 'Source: correio\n\nPackage: correio\nArchitecture: any\n' > "$out/shlibs/debian/control"
shlibs=$(cd "$out/shlibs" && dpkg-shlibdeps -O "-e$top/$pkg/usr/sbin/correio" |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "mkdeb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@SIZE@|$size|" -e "s|@SHLIBS@|$shlibs|" packaging/control.in > "$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb"
echo "mkdeb: $deb"
