package wire

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestProtocolDocumentNamesEveryCodeAndFrame: docs/PROTOCOL.md, the
// contract other languages' clients are written from, has a row for every
// error code and frame type this package defines, under the same name and
// number; the TypeScript SDK knows every code.
func TestProtocolDocumentNamesEveryCodeAndFrame(t *testing.T) {
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := os.ReadFile("../client/js/src/errors.ts")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Codes() {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^\| %d \| %s +\|`, uint16(c), c))
		if !row.Match(doc) {
			t.Errorf("PROTOCOL.md has no error-code row for %d %s", uint16(c), c)
		}
		if !strings.Contains(string(ts), fmt.Sprintf("%s: %d,", c, uint16(c))) {
			t.Errorf("client/js/src/errors.ts lacks %s: %d", c, uint16(c))
		}
	}
	for typ, name := range typeNames {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^\| 0x%02x \| %s +\|`, uint8(typ), name))
		if !row.Match(doc) {
			t.Errorf("PROTOCOL.md's frame table has no row for 0x%02x %s", uint8(typ), name)
		}
		if !strings.Contains(string(doc), fmt.Sprintf("### %s (0x%02x)", name, uint8(typ))) && !regexp.MustCompile(fmt.Sprintf(`### [^\n]*%s \(0x%02x\)`, name, uint8(typ))).Match(doc) {
			t.Errorf("PROTOCOL.md has no section for %s (0x%02x)", name, uint8(typ))
		}
	}
}
