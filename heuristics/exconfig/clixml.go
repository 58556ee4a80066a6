package exconfig

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// readClixml reads Export-Clixml output (PowerShell's serialization, as in
// [MS-PSRP] 2.2.5): <Objs> holding one <Obj> per connector. Live objects
// (types Microsoft.Exchange...) and deserialized ones from a remote
// Exchange Management Shell (types Deserialized.Microsoft.Exchange...) are
// read alike; SerializationData blobs are skipped.
func readClixml(t string) (*Config, error) {
	d := xml.NewDecoder(strings.NewReader(t))
	d.Strict = false
	p := &clixml{d: d, refs: map[string]*object{}, types: map[string][]string{}, open: map[*object]bool{}}
	var top []any
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: Clixml: %v", ErrUnknownShape, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local == "Objs" {
			continue
		}
		v, err := p.value(se)
		if err != nil {
			return nil, fmt.Errorf("%w: Clixml: %v", ErrUnknownShape, err)
		}
		top = append(top, v)
	}
	c := &Config{Source: "Export-Clixml"}
	n := 0
	for _, v := range top {
		o, ok := v.(*object)
		if !ok {
			continue
		}
		n++
		if !isReceiveConnector(o) {
			return nil, fmt.Errorf("%w: Clixml object %d (%s) is not a receive connector", ErrUnknownShape, n, firstType(o))
		}
		c.ReceiveConnectors = append(c.ReceiveConnectors, connectorFrom(o, fmt.Sprintf("object %d", n), &c.Notes))
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the Clixml holds no objects", ErrUnknownShape)
	}
	return c, nil
}

func firstType(o *object) string {
	if len(o.types) > 0 {
		return o.types[0]
	}
	return "no type name"
}

type clixml struct {
	d     *xml.Decoder
	refs  map[string]*object  // <Obj RefId>, for <Ref RefId>
	types map[string][]string // <TN RefId>, for <TNRef RefId>
	open  map[*object]bool    // objects still being read: a Ref to one is a cycle
	depth int
}

// maxClixmlDepth bounds nesting: PowerShell writes depth 2 by default,
// and a hostile file must not exhaust the stack.
const maxClixmlDepth = 64

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// value reads the element se opened and returns its value.
func (p *clixml) value(se xml.StartElement) (any, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxClixmlDepth {
		return nil, fmt.Errorf("objects nested more than %d deep", maxClixmlDepth)
	}
	switch se.Name.Local {
	case "Obj":
		return p.obj(se)
	case "Ref":
		if err := p.d.Skip(); err != nil {
			return nil, err
		}
		// A reference to an object being read would make a cycle, which
		// PowerShell never writes; it is read as nothing.
		if o := p.refs[attr(se, "RefId")]; o != nil && !p.open[o] {
			return o, nil
		}
		return nil, nil
	case "Nil":
		return nil, p.d.Skip()
	case "BA", "SS", "SBK":
		// Byte arrays (SerializationData), secure strings and script
		// blocks say nothing logscan needs.
		return nil, p.d.Skip()
	}
	text, err := p.text()
	if err != nil {
		return nil, err
	}
	switch se.Name.Local {
	case "S", "URI", "Version", "XD", "DT", "G", "TS":
		return unescapeClixml(text), nil
	case "B":
		return strings.EqualFold(strings.TrimSpace(text), "true"), nil
	case "I32", "I64", "I16", "U8", "SB", "U16", "U32", "U64", "Db", "Sg", "D", "C":
		return strings.TrimSpace(text), nil
	}
	return unescapeClixml(text), nil
}

// text reads the character data up to the end of the current element.
func (p *clixml) text() (string, error) {
	var b strings.Builder
	for {
		tok, err := p.d.Token()
		if err != nil {
			return "", err
		}
		switch x := tok.(type) {
		case xml.CharData:
			b.Write(x)
		case xml.StartElement:
			if err := p.d.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return b.String(), nil
		}
	}
}

func (p *clixml) obj(se xml.StartElement) (any, error) {
	o := newObject()
	if id := attr(se, "RefId"); id != "" {
		p.refs[id] = o
	}
	p.open[o] = true
	defer delete(p.open, o)
	var items []any
	isList := false
	for {
		tok, err := p.d.Token()
		if err != nil {
			return nil, err
		}
		switch x := tok.(type) {
		case xml.EndElement:
			if isList {
				o.set("\x00list", items)
			}
			return o, nil
		case xml.StartElement:
			switch x.Name.Local {
			case "TN":
				var names []string
				if err := p.each(func(e xml.StartElement) error {
					s, err := p.text()
					names = append(names, strings.TrimPrefix(strings.TrimSpace(s), "Deserialized."))
					return err
				}); err != nil {
					return nil, err
				}
				o.types = names
				p.types[attr(x, "RefId")] = names
			case "TNRef":
				o.types = p.types[attr(x, "RefId")]
				if err := p.d.Skip(); err != nil {
					return nil, err
				}
			case "ToString":
				s, err := p.text()
				if err != nil {
					return nil, err
				}
				o.toString = unescapeClixml(s)
			case "Props", "MS":
				if err := p.each(func(e xml.StartElement) error {
					v, err := p.value(e)
					if n := attr(e, "N"); n != "" {
						o.set(unescapeClixml(n), v)
					}
					return err
				}); err != nil {
					return nil, err
				}
			case "LST", "IE", "STK", "QUE":
				isList = true
				if err := p.each(func(e xml.StartElement) error {
					v, err := p.value(e)
					items = append(items, v)
					return err
				}); err != nil {
					return nil, err
				}
			case "DCT":
				if err := p.each(func(en xml.StartElement) error {
					var k, v any
					err := p.each(func(e xml.StartElement) error {
						val, err := p.value(e)
						if attr(e, "N") == "Key" {
							k = val
						} else {
							v = val
						}
						return err
					})
					if ks, ok := scalar(k); ok {
						o.set(ks, v)
					}
					return err
				}); err != nil {
					return nil, err
				}
			default:
				// A primitive inside an Obj: an enum's value (<I32>31</I32>)
				// or a string with added members.
				v, err := p.value(x)
				if err != nil {
					return nil, err
				}
				o.value, o.hasValue = v, true
			}
		}
	}
}

// each calls f for every child element of the current element.
func (p *clixml) each(f func(xml.StartElement) error) error {
	for {
		tok, err := p.d.Token()
		if err != nil {
			return err
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if err := f(x); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

var clixmlEscape = regexp.MustCompile(`_x([0-9A-Fa-f]{4})_`)

// unescapeClixml undoes PowerShell's _xHHHH_ escapes of characters XML
// cannot hold (line ends, control characters).
func unescapeClixml(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	return clixmlEscape.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseUint(m[2:6], 16, 16)
		if err != nil {
			return m
		}
		return string(rune(n))
	})
}
