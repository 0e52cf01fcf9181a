#!/usr/bin/env bash
# legal: licence texts. Every SPDX licence text (npm spdx-license-list) and the Debian
# copyright files (debian/copyright: licences, notices, file stanzas) of a fixed list
# of 99 small Debian packages chosen for long, distinct copyright files. One document
# per licence or copyright file; files over 100 kB are cut at blank lines.
source "$(dirname "$0")/lib.sh"
corpus_init "$@"
PACKAGES="adduser appstream at-spi2-common bsdextrautils ca-certificates curl dbus
debianutils diffutils e2fsprogs findutils fp-compiler gdal-data gir1.2-glib-2.0
gtk-update-icon-cache i965-va-driver ibverbs-providers jq krb5-locales libarchive13
libargon2-1 libbluray2 libboost-filesystem1.74.0 libbsd0 libc-bin libcairo-gobject2
libcolord2 libcryptsetup12 libdav1d6 libdb5.3 libdebuginfod-common libdrm-amdgpu1
libegl-mesa0 libevent-2.1-7 libexif12 libffi-dev libfmt9 libfreetype-dev libfreexl1
libgail-common libgcrypt20 libgd3 libgnutls-dane0 libgraphite2-3 libhdf4-0-alt libheif1
libhogweed6 libip4tc2 libjpeg-dev libjsr305-java libldap-2.5-0 liblzma-dev libmariadb3
libmd0 libmd4c0 libnetcdf19 libnorm1 libnsl-dev libnss-systemd libogdi4.1
libopencv-calib3d406 libopenjp2-7 libopenmpt0 libopus0 libp11-kit-dev libpam-modules
libpango-1.0-0 libplexus-utils2-java libpng-dev libpq-dev libpython3-dev libqt5svg5
libqt5waylandclient5 libsasl2-2 libsisu-inject-java libsisu-plexus-java libsnappy1v5
libsrt1.5-gnutls libssh-gcrypt-4 libtirpc-common libunbound8 libuv1 libxaw7 libxext-dev
libxnvctrl0 libzvbi-common lsof mawk publicsuffix python3-certifi
python3-charset-normalizer python3-dbus python3-distutils python3-future
python3-hypothesis rpcsvc-proto sed tmux x11-utils"
spdx=$(npm_fetch spdx-license-list@6.12.0 licence-texts-verbatim "(package: CC0-1.0)")
deb_prefetch $PACKAGES
dirs=()
for p in $PACKAGES; do
    dirs+=("$(deb_fetch "$p" copyright-notices-verbatim "(package: see its copyright)")")
done
emit_py "$spdx" "${dirs[@]}" <<'PY'
import glob, json, os, sys, corpuslib as c
docs = []
for f in sorted(glob.glob(sys.argv[1] + "/licenses/*.json")):
    with open(f, encoding="utf-8") as fh:
        lic = json.load(fh)
    text = lic.get("licenseText", "")
    if text.strip():
        docs += c.split_text("spdx:" + os.path.basename(f)[:-5], text)
for d in sys.argv[2:]:
    name = os.path.basename(d)
    path = "%s/usr/share/doc/%s/copyright" % (d, name)
    if not os.path.isfile(path):  # a symlinked doc dir: take the one the package ships
        found = sorted(glob.glob(d + "/usr/share/doc/*/copyright"))
        found = [p for p in found if os.path.isfile(p) and not os.path.islink(p)]
        if not found:
            continue
        path = found[0]
    with open(path, "rb") as fh:
        docs += c.split_text("debian-copyright:" + name, fh.read())
c.emit(docs)
PY
