package pdq

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ListEntry is a hash of a hash list, with the quality the list gives it
// (-1 when it gives none).
type ListEntry struct {
	Hash    Hash
	Quality int
}

// maxLine is the longest line of a hash list: eight hashes, a quality and
// a file name fit many times over.
const maxLine = 64 << 10

// ParseList reads a hash list as the reference tools print it and the
// industry shares it: one hash a line (64 hex digits), optionally followed
// by ",QUALITY" and more fields (pdq-photo-hasher's ",FILE"), or eight
// hashes a line (pdq-photo-hasher --pdqdih-across: the picture's dihedral
// forms), each then an entry. Blank lines and lines starting with # are
// skipped. A malformed line refuses the whole list: the error names its
// line number.
func ParseList(r io.Reader) ([]ListEntry, error) {
	var entries []ListEntry
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 4096), maxLine)
	n := 0
	for s.Scan() {
		n++
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var err error
		if entries, err = parseLine(entries, line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := s.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", n+1, maxLine)
		}
		return nil, err
	}
	return entries, nil
}

// parseLine appends the entries of a line that is not blank nor a comment.
func parseLine(entries []ListEntry, line string) ([]ListEntry, error) {
	fields := strings.Split(line, ",")
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	hashes := 1
	if len(fields) > 1 && len(fields[1]) == 64 {
		hashes = 8
	}
	if len(fields) < hashes {
		return nil, fmt.Errorf("%d fields after 2 hashes: a line has 1 hash or 8", len(fields))
	}
	first := len(entries)
	for _, f := range fields[:hashes] {
		h, err := ParseHash(f)
		if err != nil {
			return nil, err
		}
		entries = append(entries, ListEntry{Hash: h, Quality: -1})
	}
	if len(fields) > hashes {
		q, err := strconv.Atoi(fields[hashes])
		if err != nil || q < 0 || q > 100 {
			return nil, fmt.Errorf("quality %q: want a whole number from 0 to 100", fields[hashes])
		}
		for i := first; i < len(entries); i++ {
			entries[i].Quality = q
		}
	}
	return entries, nil
}
