package wire

import (
	"encoding/binary"
	"fmt"

	"herald/internal/binread"
)

// Limits on templates.
const (
	MaxName          = 64  // bytes of a template or field name (CheckName)
	MaxTemplateTitle = 255 // bytes of a template's title
	MaxFields        = 20  // fields of a template (and of a notification)
)

// CheckName checks a template or field name: 1 to MaxName bytes of ASCII
// letters, digits, '-', '_', '.' and ':'. what names it in the error.
func CheckName(what, s string) error {
	if s == "" || len(s) > MaxName {
		return fmt.Errorf("%w: a %s name is 1 to %d bytes, not %d", ErrInvalid, what, MaxName, len(s))
	}
	if !codeChars(s) {
		return fmt.Errorf("%w: %s name %q: only letters, digits, '-', '_', '.' and ':'", ErrInvalid, what, s)
	}
	return nil
}

// TEMPLATE operations (the op byte).
const (
	TemplateDefine uint8 = 1 // create the template Name, or replace its title, fields and consent flag
	TemplateDelete uint8 = 2 // delete the template Name
	TemplateList   uint8 = 3 // list every template of the account (Name empty)
)

// TemplateInfo is one template: its name (its id within the account), a
// title, its fields' names, and whether a notification of it needs the
// recipient's consent (CONSENT) rather than the recipient's following.
type TemplateInfo struct {
	Name    string
	Title   string
	Consent bool
	Fields  []string
}

// templateConsent is the template flags' bit for TemplateInfo.Consent.
const templateConsent = 1 << 0

// Validate checks a template's name, title and fields.
func (t TemplateInfo) Validate() error {
	if err := CheckName("template", t.Name); err != nil {
		return err
	}
	switch {
	case t.Title == "" || len(t.Title) > MaxTemplateTitle:
		return fmt.Errorf("%w: a template title is 1 to %d bytes, not %d", ErrInvalid, MaxTemplateTitle, len(t.Title))
	case len(t.Fields) > MaxFields:
		return fmt.Errorf("%w: a template has at most %d fields, not %d", ErrInvalid, MaxFields, len(t.Fields))
	}
	for i, f := range t.Fields {
		if err := CheckName("field", f); err != nil {
			return err
		}
		for _, g := range t.Fields[:i] {
			if g == f {
				return fmt.Errorf("%w: field %q listed twice", ErrInvalid, f)
			}
		}
	}
	return nil
}

func appendTemplateInfo(dst []byte, t TemplateInfo) []byte {
	dst = appendStr8(dst, t.Name)
	dst = appendStr8(dst, t.Title)
	var flags uint8
	if t.Consent {
		flags |= templateConsent
	}
	dst = append(dst, flags, byte(len(t.Fields)))
	for _, f := range t.Fields {
		dst = appendStr8(dst, f)
	}
	return dst
}

func readTemplateInfo(r *binread.Reader, name string) TemplateInfo {
	t := TemplateInfo{Name: name, Title: r.Str8(MaxTemplateTitle)}
	flags := r.U8()
	if flags&^templateConsent != 0 {
		r.Fail()
	}
	t.Consent = flags&templateConsent != 0
	n := int(r.U8())
	if n > MaxFields {
		r.Fail()
		return t
	}
	for i := 0; i < n && !r.Short(); i++ {
		t.Fields = append(t.Fields, r.Str8(MaxName))
	}
	return t
}

// Template asks for one change to the account's templates, or for their
// list; it is answered by TEMPLATES (or ERROR).
type Template struct {
	RequestID uint32
	Account   uint32
	Op        uint8
	// Template.Name is the template's (empty for TemplateList); its title,
	// consent flag and fields are carried for TemplateDefine only.
	Template TemplateInfo
}

// AppendTemplate appends a TEMPLATE frame: request_id u32, account u32,
// op u8, name str8, and for a define title str8, flags u8 (bit 0:
// consent), a field count u8 and each field name str8.
func AppendTemplate(dst []byte, m Template) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeTemplate, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint32(dst, m.Account)
	dst = append(dst, m.Op)
	if m.Op == TemplateDefine {
		dst = appendTemplateInfo(dst, m.Template)
	} else {
		dst = appendStr8(dst, m.Template.Name)
	}
	return patchLength(dst, start)
}

// DecodeTemplate decodes a TEMPLATE body and checks it: a known op, a
// valid template for a define, a valid name for a delete, none for a
// list.
func DecodeTemplate(body []byte) (Template, error) {
	r := binread.New(body)
	m := Template{RequestID: r.U32(), Account: r.U32(), Op: r.U8()}
	name := r.Str8(255)
	if m.Op == TemplateDefine {
		m.Template = readTemplateInfo(r, name)
	} else {
		m.Template.Name = name
	}
	if err := done(r, TypeTemplate); err != nil {
		return m, err
	}
	switch m.Op {
	case TemplateDefine:
		return m, m.Template.Validate()
	case TemplateDelete:
		return m, CheckName("template", name)
	case TemplateList:
		if name != "" {
			return m, fmt.Errorf("%w: a template list names no template", ErrInvalid)
		}
		return m, nil
	}
	return m, fmt.Errorf("%w: unknown template operation %d", ErrInvalid, m.Op)
}

// Templates answers TEMPLATE: the template defined (or deleted, as it
// was), or for a list every template of the account in name order.
type Templates struct {
	RequestID uint32
	Templates []TemplateInfo
}

// AppendTemplates appends a TEMPLATES frame: request_id u32, a count u16
// and each template as TEMPLATE's define carries it (name str8, title
// str8, flags u8, field count u8, field names str8).
func AppendTemplates(dst []byte, m Templates) []byte {
	start := len(dst)
	dst = AppendHeader(dst, TypeTemplates, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, m.RequestID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Templates)))
	for _, t := range m.Templates {
		dst = appendTemplateInfo(dst, t)
	}
	return patchLength(dst, start)
}

// DecodeTemplates decodes a TEMPLATES body.
func DecodeTemplates(body []byte) (Templates, error) {
	r := binread.New(body)
	m := Templates{RequestID: r.U32()}
	n := int(r.U16())
	for i := 0; i < n && !r.Short(); i++ {
		m.Templates = append(m.Templates, readTemplateInfo(r, r.Str8(MaxName)))
	}
	return m, done(r, TypeTemplates)
}
