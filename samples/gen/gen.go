package gen

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config sizes the organisation's traffic.
type Config struct {
	Start        time.Time // first hour (UTC); default 2026-11-02T00:00Z
	Hours        int       // hours of logs; with TargetBytes, the minimum
	TargetBytes  int64     // keep adding hours until this much is written (0: Hours only)
	Scale        float64   // traffic multiplier; 1 is a small office (default 1)
	Seed         uint64
	MaxFileBytes int // roll a file over past this size, as Exchange does at 10 MB (default)
	// LiveTail cuts the last file of each folder in the middle of its last
	// row, as when logs are copied while the transport service writes them.
	LiveTail bool
	// Clean writes the same organisation without its incidents: EX03
	// sees its clients' own addresses on its Default Frontend connector,
	// nobody relays from the Internet, and no connector breaks X-EXPS. The
	// printer's relay and the Internet's relay probes remain: they are
	// normal, and must not raise findings.
	Clean bool
	// Botnet is how many public sources relay through EX02's Default
	// Frontend connector, opened to anonymous relay at 14:10; 0: none.
	Botnet int
	// MoreIncidents: the load balancer of incident 1 also fronts EX01,
	// and a second connector breaks X-EXPS (EX03 -> EX02, 451 5.7.3).
	MoreIncidents bool
	// ConnectivityLogs also writes each server's Transport connectivity log
	// (Hub\Connectivity\CONNECTLOG<yyyymmddhh>-1.LOG), where Exchange
	// writes the failure text (451 5.7.3, DNS, TLS) that its protocol logs
	// never show; logscan reads them as evidence.
	ConnectivityLogs bool
	// Auth adds authenticated submission at an organisation's size, service
	// accounts and the Internet guessing passwords (auth.go).
	Auth bool
	// Compromise (with or without Auth) adds one compromised account (auth.go).
	Compromise bool
	// Accounts is how many ordinary users submit with AUTH (Config.Auth);
	// 0 means an organisation's worth (200 or more). The committed sample
	// uses fewer, to stay small.
	Accounts int
}

// Sink receives the files; path is slash-separated and relative to the
// output root, e.g. "EX01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026110200-1.LOG".
type Sink func(path string) (io.WriteCloser, error)

// Stats says what Generate wrote.
type Stats struct {
	Files, Rows, Sessions int
	Bytes                 int64
	// OldTLS are the clients that negotiated TLS 1.0 or 1.1 (address ->
	// "TLS1.0" / "TLS1.1"): the truth of clients --tls-below 1.2.
	OldTLS map[string]string
	// ConnectivityFiles are the connectivity log files among Files.
	ConnectivityFiles int
	// ExchangeAuthAttempts are EX02's failed attempts to deliver to EX01
	// (451 5.7.3, incident 3), each written to EX02's send log and EX01's
	// receive log: the truth a detector's count must match.
	ExchangeAuthAttempts int
	Auth                 AuthStats // what Config.Auth and Config.Compromise added (auth.go)
	// Incidents is the truth about the relays, the NAT, the second 451
	// pair and the blocklisting (blocklist.go).
	Incidents IncidentStats
}

// streamKey is one log folder of one server.
type streamKey struct {
	server int
	hub    bool // Hub (Transport service) rather than FrontEnd
	send   bool
	conn   bool // the Hub's connectivity log rather than a protocol log
}

func (k streamKey) dir() string {
	if k.conn {
		return path.Join(servers[k.server].name, "Hub", "Connectivity")
	}
	role := "FrontEnd"
	if k.hub {
		role = "Hub"
	}
	kind := "SmtpReceive"
	if k.send {
		kind = "SmtpSend"
	}
	return path.Join(servers[k.server].name, role, "ProtocolLog", kind)
}

type logRow struct {
	ts        int64 // Unix ms
	sid       uint64
	seq       int
	connector string
	local     string
	remote    string
	event     byte
	data, ctx string
}

type generator struct {
	cfg     Config
	rng     *rand.Rand
	rows    map[streamKey][]logRow // rows of the hour being written
	carry   map[streamKey][]logRow // rows that fall into a later hour
	hourEnd int64
	nextSID []uint64
	peers   []peer
	msgID   uint64
	stats   Stats
	// nextRetry is when EX02's queue to EX01 next tries again (incident 3).
	nextRetry int64
	auth      *authPlan     // Config.Auth, Config.Compromise (auth.go)
	inc       incidentState // blocklist.go
}

// Generate writes cfg.Hours (or more, up to cfg.TargetBytes) of logs to sink.
func Generate(cfg Config, sink Sink) (Stats, error) {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	}
	cfg.Start = cfg.Start.UTC().Truncate(time.Hour)
	if cfg.Hours <= 0 {
		cfg.Hours = 24
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = 10 << 20
	}
	g := &generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x10950a7)),
		rows: map[streamKey][]logRow{}, carry: map[streamKey][]logRow{}}
	for i := range servers {
		// Session ids look like Exchange's: a per-server 64-bit counter.
		g.nextSID = append(g.nextSID, 0x08DE1A0000000000|uint64(i+1)<<36|g.rng.Uint64N(1<<32))
	}
	g.peers = makePeers(g.rng)
	g.nextRetry = cfg.Start.Add(brokenConnectorAfter + firstRetryAfter).UnixMilli()
	for h := 0; h < cfg.Hours || g.stats.Bytes < cfg.TargetBytes; h++ {
		start := cfg.Start.Add(time.Duration(h) * time.Hour)
		g.hourEnd = start.Add(time.Hour).UnixMilli()
		for k, rs := range g.carry {
			g.rows[k] = append(g.rows[k], rs...)
		}
		clear(g.carry)
		g.hour(start)
		g.authHour(start)
		last := h+1 >= cfg.Hours && g.stats.Bytes >= cfg.TargetBytes
		if err := g.flush(start, sink, last && cfg.LiveTail); err != nil {
			return g.stats, err
		}
	}
	return g.stats, nil
}

func makePeers(rng *rand.Rand) []peer {
	var ps []peer
	for i := 0; i < 400; i++ {
		d := externalDomains[rng.IntN(len(externalDomains))]
		ip := fmt.Sprintf("%d.%d.%d.%d", []int{40, 52, 104, 157, 185, 203, 209, 212, 74, 91}[i%10], rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		ehlo := fmt.Sprintf("mail%d.%s", rng.IntN(40), d)
		if i%7 == 0 {
			ehlo = fmt.Sprintf("%s-%d.outbound.protection.outlook.com", strings.ReplaceAll(d, ".", ""), rng.IntN(90))
		}
		ps = append(ps, peer{ip: ip, ehlo: ehlo, domain: d})
	}
	return ps
}

// flush writes the hour's rows, sorted by time as Exchange writes them, into
// one file per folder, rolling over by size.
func (g *generator) flush(hour time.Time, sink Sink, cutTail bool) error {
	keys := make([]streamKey, 0, len(g.rows))
	for k := range g.rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b streamKey) int { return strings.Compare(a.dir(), b.dir()) })
	var buf bytes.Buffer
	for _, k := range keys {
		rows := g.rows[k]
		slices.SortStableFunc(rows, func(a, b logRow) int { return int(a.ts - b.ts) })
		prefix := "RECV"
		logType := "SMTP Receive Protocol Log"
		if k.send {
			prefix, logType = "SEND", "SMTP Send Protocol Log"
		}
		if k.conn {
			prefix = "CONNECTLOG"
		}
		n := 0
		var w io.WriteCloser
		for i, r := range rows {
			if w == nil || buf.Len() >= g.cfg.MaxFileBytes {
				if w != nil {
					if err := g.writeFile(w, &buf); err != nil {
						return err
					}
				}
				n++
				var err error
				w, err = sink(path.Join(k.dir(), fmt.Sprintf("%s%s-%d.LOG", prefix, hour.Format("2006010215"), n)))
				if err != nil {
					return err
				}
				created := time.UnixMilli(rows[i].ts).UTC()
				if k.conn {
					// The header Microsoft documents for connectivity logs:
					// #Version is 15.0.0.0 on 2013 and later.
					g.stats.ConnectivityFiles++
					fmt.Fprintf(&buf, "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: Transport Connectivity Log\r\n#Date: %s\r\n#Fields: date-time,session,source,destination,direction,description\r\n",
						created.Format("2006-01-02T15:04:05.000Z"))
				} else {
					fmt.Fprintf(&buf, "#Software: Microsoft Exchange Server\r\n#Version: %s\r\n#Log-type: %s\r\n#Date: %s\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n",
						servers[k.server].version, logType, created.Format("2006-01-02T15:04:05.000Z"))
				}
			}
			if k.conn {
				writeConnRow(&buf, &r)
			} else {
				writeRow(&buf, &r)
			}
			g.stats.Rows++
		}
		if w != nil && cutTail && len(rows) > 0 {
			// Half of the last row: what a copy of a live file holds.
			b := buf.Bytes()
			lastLen := len(b) - bytes.LastIndexByte(b[:len(b)-2], '\n') - 1
			buf.Truncate(len(b) - lastLen/2)
		}
		if w != nil {
			if err := g.writeFile(w, &buf); err != nil {
				return err
			}
		}
		g.rows[k] = rows[:0]
	}
	return nil
}

func (g *generator) writeFile(w io.WriteCloser, buf *bytes.Buffer) error {
	g.stats.Files++
	g.stats.Bytes += int64(buf.Len())
	_, err := w.Write(buf.Bytes())
	buf.Reset()
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeRow(buf *bytes.Buffer, r *logRow) {
	buf.WriteString(time.UnixMilli(r.ts).UTC().Format("2006-01-02T15:04:05.000Z"))
	buf.WriteByte(',')
	csvField(buf, r.connector)
	buf.WriteByte(',')
	fmt.Fprintf(buf, "%016X,%d,%s,%s,", r.sid, r.seq, r.local, r.remote)
	if r.event != 0 {
		buf.WriteByte(r.event)
	}
	buf.WriteByte(',')
	csvField(buf, r.data)
	buf.WriteByte(',')
	csvField(buf, r.ctx)
	buf.WriteString("\r\n")
}

// writeConnRow writes a connectivity log row: date-time, session, source
// (SMTP), destination (kept in connector), direction (event), description
// (data).
func writeConnRow(buf *bytes.Buffer, r *logRow) {
	buf.WriteString(time.UnixMilli(r.ts).UTC().Format("2006-01-02T15:04:05.000Z"))
	fmt.Fprintf(buf, ",%016X,SMTP,", r.sid)
	csvField(buf, r.connector)
	buf.WriteByte(',')
	buf.WriteByte(r.event)
	buf.WriteByte(',')
	csvField(buf, r.data)
	buf.WriteString("\r\n")
}

// connRow logs one connectivity event of server sv's Transport service.
func (g *generator) connRow(sv int, t int64, sid uint64, dest string, dir byte, desc string) {
	if !g.cfg.ConnectivityLogs {
		return
	}
	k := streamKey{server: sv, hub: true, conn: true}
	r := logRow{ts: t, sid: sid, connector: dest, event: dir, data: desc}
	if t >= g.hourEnd {
		g.carry[k] = append(g.carry[k], r)
		return
	}
	g.rows[k] = append(g.rows[k], r)
}

// csvField quotes as Exchange does: only fields holding a comma or a quote.
func csvField(buf *bytes.Buffer, s string) {
	if !strings.ContainsAny(s, ",\"") {
		buf.WriteString(s)
		return
	}
	buf.WriteByte('"')
	buf.WriteString(strings.ReplaceAll(s, `"`, `""`))
	buf.WriteByte('"')
}

// session appends the rows of one SMTP session to its log folder.
type session struct {
	g             *generator
	key           streamKey
	connector     string
	sid           uint64
	seq           int
	t             int64
	local, remote string
}

func (g *generator) open(key streamKey, connector string, t int64, local, remote string) *session {
	sid := g.nextSID[key.server]
	g.nextSID[key.server]++
	g.stats.Sessions++
	return &session{g: g, key: key, connector: connector, sid: sid, t: t, local: local, remote: remote}
}

// add logs one row dt milliseconds after the previous one.
func (s *session) add(dt int64, event byte, data, ctx string) {
	s.t += dt
	r := logRow{ts: s.t, sid: s.sid, seq: s.seq, connector: s.connector, local: s.local, remote: s.remote, event: event, data: data, ctx: ctx}
	s.seq++
	if s.t >= s.g.hourEnd {
		s.g.carry[s.key] = append(s.g.carry[s.key], r)
		return
	}
	s.g.rows[s.key] = append(s.g.rows[s.key], r)
}

func (g *generator) ms(lo, hi int) int64 { return int64(lo + g.rng.IntN(hi-lo+1)) }

func (g *generator) port() string { return strconv.Itoa(1024 + g.rng.IntN(64000)) }

func (g *generator) messageID(host string) string {
	g.msgID++
	return fmt.Sprintf("<%08x%04x@%s>", g.rng.Uint32(), g.msgID&0xffff, host)
}

func (g *generator) user(domain string) string {
	return users[g.rng.IntN(len(users))] + "@" + domain
}

func (g *generator) internalUser() string {
	return g.user(acceptedDomains[g.rng.IntN(10)/9]) // mostly contoso.com
}
