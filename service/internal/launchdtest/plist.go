//go:build unix

package launchdtest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParsePlist reads an XML property list strictly, as launchd does: the
// values are string, bool, int64, []any and map[string]any. A key without
// a value, an unknown element, a duplicate key or text outside a value is
// an error.
func ParsePlist(b []byte) (map[string]any, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("plist: no <plist> element: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "plist" {
			return nil, fmt.Errorf("plist: root element <%s>, want <plist>", se.Name.Local)
		}
		start, err := nextStart(d)
		if err != nil {
			return nil, err
		}
		v, err := value(d, start)
		if err != nil {
			return nil, err
		}
		top, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("plist: the top value is not a <dict>")
		}
		if err := endOf(d, "plist"); err != nil {
			return nil, err
		}
		return top, nil
	}
}

// nextStart skips white space and comments to the next element; a closing
// tag or other text is an error.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, fmt.Errorf("plist: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return xml.StartElement{}, fmt.Errorf("plist: text %q outside a value", t)
			}
		case xml.Comment, xml.ProcInst, xml.Directive:
		default:
			return xml.StartElement{}, fmt.Errorf("plist: %T where a value belongs", t)
		}
	}
}

// endOf reads to the closing tag of name, allowing only white space.
func endOf(d *xml.Decoder, name string) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("plist: %w", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local != name {
				return fmt.Errorf("plist: </%s> where </%s> belongs", t.Name.Local, name)
			}
			return nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return fmt.Errorf("plist: text %q in <%s>", t, name)
			}
		case xml.Comment:
		default:
			return fmt.Errorf("plist: unexpected %T in <%s>", t, name)
		}
	}
}

func text(d *xml.Decoder, name string) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("plist: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.EndElement:
			return b.String(), nil
		default:
			return "", fmt.Errorf("plist: unexpected %T in <%s>", t, name)
		}
	}
}

func value(d *xml.Decoder, se xml.StartElement) (any, error) {
	switch se.Name.Local {
	case "string":
		return text(d, "string")
	case "integer":
		s, err := text(d, "integer")
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("plist: <integer>%s</integer>: %w", s, err)
		}
		return n, nil
	case "true", "false":
		return se.Name.Local == "true", endOf(d, se.Name.Local)
	case "array":
		var a []any
		for {
			tok, err := nextOrEnd(d, "array")
			if err != nil || tok == nil {
				return a, err
			}
			v, err := value(d, *tok)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case "dict":
		m := map[string]any{}
		for {
			tok, err := nextOrEnd(d, "dict")
			if err != nil || tok == nil {
				return m, err
			}
			if tok.Name.Local != "key" {
				return nil, fmt.Errorf("plist: <%s> where a <key> belongs", tok.Name.Local)
			}
			k, err := text(d, "key")
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("plist: key %q twice", k)
			}
			vs, err := nextOrEnd(d, "dict")
			if err != nil {
				return nil, err
			}
			if vs == nil {
				return nil, fmt.Errorf("plist: key %q has no value", k)
			}
			if m[k], err = value(d, *vs); err != nil {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("plist: unknown element <%s>", se.Name.Local)
}

// nextOrEnd returns the next element inside name, or nil at its end.
func nextOrEnd(d *xml.Decoder, name string) (*xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, fmt.Errorf("plist: <%s> is not closed", name)
		}
		if err != nil {
			return nil, fmt.Errorf("plist: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return &t, nil
		case xml.EndElement:
			return nil, nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, fmt.Errorf("plist: text %q in <%s>", t, name)
			}
		case xml.Comment:
		default:
			return nil, fmt.Errorf("plist: unexpected %T in <%s>", t, name)
		}
	}
}
