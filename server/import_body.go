package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Limits on a compressed import body. A follower list compresses about
// 3–5:1; a ratio past maxImportRatio is a decompression bomb, refused before
// it costs more than a little CPU. The window bound caps the decoder's
// memory at any ratio.
const (
	maxImportRatio  = 1000
	ratioAllowance  = 1 << 20 // decoded bytes always allowed before the ratio applies
	maxImportWindow = 8 << 20
)

// errBomb: the decoded body grew past the allowed ratio.
var errBomb = errors.New("decompressed size exceeds 1000× the compressed size: refusing a likely decompression bomb")

// errEncoding: a Content-Encoding other than identity or zstd.
var errEncoding = errors.New("unsupported Content-Encoding")

// importBody returns the decoded request body and a release function.
func importBody(r *http.Request) (io.Reader, func(), error) {
	switch enc := strings.TrimSpace(strings.ToLower(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return r.Body, func() {}, nil
	case "zstd":
		compressed := &countingReader{r: r.Body}
		dec, err := zstd.NewReader(compressed,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxImportWindow),
			zstd.WithDecoderMaxMemory(maxImportWindow))
		if err != nil {
			return nil, nil, err
		}
		return &ratioReader{r: dec, compressed: compressed}, dec.Close, nil
	default:
		return nil, nil, fmt.Errorf("%w %q (send identity or zstd)", errEncoding, enc)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ratioReader fails once decoded bytes outgrow the compressed ones.
type ratioReader struct {
	r          io.Reader
	compressed *countingReader
	decoded    int64
}

func (d *ratioReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.decoded += int64(n)
	if d.decoded > ratioAllowance+maxImportRatio*d.compressed.n {
		return n, errBomb
	}
	return n, err
}
