package storage

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
	"herald/wire"
)

// Template is one of an account's templates (its name is the key).
type Template = wire.TemplateInfo

func encodeTemplate(t Template) []byte {
	var w codec.Writer
	w.Str(t.Title)
	var flags uint8
	if t.Consent {
		flags |= 1
	}
	w.U8(flags)
	w.U8(uint8(len(t.Fields)))
	for _, f := range t.Fields {
		w.Str(f)
	}
	return codec.Seal(w.B)
}

func decodeTemplate(v []byte, name string) (Template, error) {
	body, err := codec.Open(v)
	if err != nil {
		return Template{}, err
	}
	r := codec.NewReader(body)
	t := Template{Name: name, Title: r.Str()}
	flags := r.U8()
	t.Consent = flags&1 != 0
	n := int(r.U8())
	for i := 0; i < n && !r.Short(); i++ {
		t.Fields = append(t.Fields, r.Str())
	}
	if flags&^1 != 0 {
		return Template{}, fmt.Errorf("%w: template flags %#x", codec.ErrCorrupt, flags)
	}
	return t, r.Finish("template")
}

func readTemplate(r pebble.Reader, account uint32, name string) (Template, error) {
	key := templateKey(account, name)
	var t Template
	found, err := get(r, key, func(v []byte) (err error) {
		t, err = decodeTemplate(v, name)
		return corrupt(key, err)
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: template %q", ErrNotFound, name)
	}
	return t, err
}

func listTemplates(r pebble.Reader, account uint32) ([]Template, error) {
	prefix := u32Key(prefixTemplate, account)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Template
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		t, err := decodeTemplate(v, string(it.Key()[len(prefix):]))
		if err != nil {
			return nil, corrupt(it.Key(), err)
		}
		out = append(out, t)
	}
	return out, it.Error()
}

// Template returns the account's template of that name, or an error
// wrapping ErrNotFound.
func (x reads) Template(account uint32, name string) (Template, error) {
	return readTemplate(x.r, account, name)
}

// Templates returns the account's templates in name order.
func (x reads) Templates(account uint32) ([]Template, error) { return listTemplates(x.r, account) }

// PutTemplate creates or replaces one of the account's templates.
func (b *Batch) PutTemplate(account uint32, t Template) error {
	return b.set(templateKey(account, t.Name), encodeTemplate(t))
}

// DeleteTemplate removes one of the account's templates and returns it as
// it was (ErrNotFound if there is none). Users' consents to it stay, and
// count again if a template of that name is defined later.
func (b *Batch) DeleteTemplate(account uint32, name string) (Template, error) {
	t, err := readTemplate(b.batch, account, name)
	if err != nil {
		return t, err
	}
	return t, b.batch.Delete(templateKey(account, name), nil)
}

// Consent is what a user granted an account for one of its templates:
// notifications left, and whether the user banned the template.
type Consent struct {
	Remaining uint32
	Banned    bool
}

func encodeConsent(c Consent) []byte {
	var w codec.Writer
	w.U32(c.Remaining)
	var flags uint8
	if c.Banned {
		flags |= 1
	}
	w.U8(flags)
	return codec.Seal(w.B)
}

func decodeConsent(v []byte) (Consent, error) {
	body, err := codec.Open(v)
	if err != nil {
		return Consent{}, err
	}
	r := codec.NewReader(body)
	c := Consent{Remaining: r.U32()}
	flags := r.U8()
	if flags&^1 != 0 {
		return Consent{}, fmt.Errorf("%w: consent flags %#x", codec.ErrCorrupt, flags)
	}
	c.Banned = flags&1 != 0
	return c, r.Finish("consent")
}

// Consent returns what user granted account for template (the zero
// Consent if nothing).
func (x reads) Consent(account, user uint32, template string) (Consent, error) {
	key := consentKey(account, user, template)
	var c Consent
	_, err := get(x.r, key, func(v []byte) (err error) {
		c, err = decodeConsent(v)
		return corrupt(key, err)
	})
	return c, err
}

// PutConsent stores what user now holds for account's template; the zero
// Consent removes the record.
func (b *Batch) PutConsent(account, user uint32, template string, c Consent) error {
	key := consentKey(account, user, template)
	if c == (Consent{}) {
		return b.batch.Delete(key, nil)
	}
	return b.set(key, encodeConsent(c))
}
