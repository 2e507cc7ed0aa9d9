#!/bin/sh
# Writes pdq/testdata/goldens.csv, the hashes Meta's reference
# implementation gives the test pictures (README.md says which versions):
#   PDQ_HASHER=/path/to/pdq-photo-hasher sh pdq/testdata/reference.sh
# from the repository's root, with ImageMagick's convert first in $PATH
# (the reference decodes through it).
set -eu
hasher=${PDQ_HASHER:?give the path of pdq-photo-hasher (make pdq-photo-hasher in pdq/cpp)}
goroot=$(go env GOROOT)
ximage=$(go list -m -f '{{.Dir}}' golang.org/x/image)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=pdq/testdata/goldens.csv

# line NAME FILE: the reference's eight dihedral hashes and quality of FILE,
# named NAME.
line() {
	"$hasher" --pdqdih-across "$2" | sed "s|,$2\$|,$1|"
}

{
	echo "# pdq-photo-hasher --pdqdih-across: HASH×8,QUALITY,FILE; written by pdq/testdata/reference.sh"
	cd pdq/testdata
	for f in *.jpg *.png *.gif *.webp; do
		case $f in
		photo-o*) # EXIF orientation, which the reference ignores: hashed upright
			convert "$f" -auto-orient "$tmp/upright.png"
			line "testdata/$f" "$tmp/upright.png" ;;
		*) line "testdata/$f" "$f" ;;
		esac
	done
	cd - >/dev/null
	# Go's and x/image's pictures, but those ImageMagick reads otherwise
	# than as their 8-bit samples: 16-bit (the reference's CImg<uint8_t>
	# truncates them), with a gAMA other than sRGB's (converted), or with
	# transparency (the PNM it reads has none).
	for f in "$goroot"/src/image/testdata/* "$goroot"/src/image/png/testdata/*.png \
		"$goroot"/src/image/png/testdata/pngsuite/*.png "$ximage"/testdata/*; do
		case $f in
		*invalid* | *truncated*) continue ;;
		*.png | *.jpeg | *.jpg | *.gif | *.webp) ;;
		*) continue ;;
		esac
		props=$(identify -format '%z %A %[gamma]' "$f[0]")
		case $props in
		"8 False 0.45454"*) ;;
		*) continue ;;
		esac
		name=$(echo "$f" | sed "s|^$goroot/|GOROOT/|; s|^$ximage/|XIMAGE/|")
		line "$name" "$f"
	done
} >"$out"
echo "wrote $out: $(grep -vc '^#' "$out") pictures"
