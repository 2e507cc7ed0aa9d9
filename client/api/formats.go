package api

import "bytes"

// Format is an image format the API accepts.
type Format struct {
	// MIME is the content type, as declared in CreateUploadRequest.
	MIME string
	// Ext is the file extension of the published path, without the dot.
	Ext string
	// Name is the format's short human name.
	Name string
	// magics are the signatures one of which the file starts with, at
	// magicOffset; tag, when set, must follow at tagOffset.
	magics []string
	tag    string
	tagOff int
}

// The formats, in the order the API lists them.
var (
	JPEG = Format{MIME: "image/jpeg", Ext: "jpeg", Name: "JPEG", magics: []string{"\xff\xd8\xff"}}
	PNG  = Format{MIME: "image/png", Ext: "png", Name: "PNG", magics: []string{"\x89PNG\r\n\x1a\n"}}
	GIF  = Format{MIME: "image/gif", Ext: "gif", Name: "GIF", magics: []string{"GIF87a", "GIF89a"}}
	WebP = Format{MIME: "image/webp", Ext: "webp", Name: "WebP", magics: []string{"RIFF"}, tag: "WEBP", tagOff: 8}
)

// Formats returns every accepted format. A server may be configured to
// accept fewer.
func Formats() []Format { return []Format{JPEG, PNG, GIF, WebP} }

// FormatOf returns the format of a content type, and false for any other
// type. Parameters (";charset=…") are not accepted.
func FormatOf(mime string) (Format, bool) {
	for _, f := range Formats() {
		if f.MIME == mime {
			return f, true
		}
	}
	return Format{}, false
}

// Detect returns the format whose signature head starts with, and false
// when there is none (or head is too short to tell).
func Detect(head []byte) (Format, bool) {
	for _, f := range Formats() {
		if f.Match(head) == MatchYes {
			return f, true
		}
	}
	return Format{}, false
}

// Match is the answer of Format.Match.
type Match int

const (
	// MatchNo: head is not of the format.
	MatchNo Match = iota
	// MatchMaybe: head is shorter than the signature but agrees with it.
	MatchMaybe
	// MatchYes: head starts with the signature.
	MatchYes
)

// Match reports whether head, the first bytes of a file, start with f's
// signature.
func (f Format) Match(head []byte) Match {
	best := MatchNo
	for _, m := range f.magics {
		switch {
		case len(head) >= len(m) && string(head[:len(m)]) == m:
			best = max(best, f.matchTag(head))
		case len(head) < len(m) && bytes.HasPrefix([]byte(m), head):
			best = max(best, MatchMaybe)
		}
	}
	return best
}

func (f Format) matchTag(head []byte) Match {
	switch {
	case f.tag == "":
		return MatchYes
	case len(head) >= f.tagOff+len(f.tag):
		if string(head[f.tagOff:f.tagOff+len(f.tag)]) == f.tag {
			return MatchYes
		}
		return MatchNo
	}
	return MatchMaybe
}

// Signature is how the files of a format start: with one of Magics, and
// then, when Tag is set, Tag at TagOffset. It is Match's rule, for a
// program that sniffs files elsewhere (the composer page's script does it
// in the browser with the signatures the server gives it).
type Signature struct {
	Magics    []string
	Tag       string
	TagOffset int
}

// Signature returns f's signature.
func (f Format) Signature() Signature {
	return Signature{Magics: append([]string(nil), f.magics...), Tag: f.tag, TagOffset: f.tagOff}
}
