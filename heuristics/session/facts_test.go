package session

import (
	"testing"
)

// TestQuitAfterEHLOAndExchangeAuthInfo: the facts the 451 5.7.3 detector
// reads. A send log where the peer's EHLO reply (2010: one row per line;
// 2016: joined on one row) lacks X-EXPS and QUIT follows at once, no MAIL;
// the same with TLS in between; a normal delivery; and the information rows
// of X-EXPS offered but failing.
func TestQuitAfterEHLOAndExchangeAuthInfo(t *testing.T) {
	const conn = "Intra-Organization SMTP Send Connector"
	local, remote := "10.20.0.12:30001", "10.20.0.11:2525"
	tests := []struct {
		name       string
		text       string
		quit, exps bool
		info       string
	}{{
		name: "2010: 250- rows, no X-EXPS, QUIT",
		text: sendHeader + rows(conn, "08DE000000000001", local, remote, 0,
			"+,,", "<,220 EX01.contoso.com Microsoft ESMTP MAIL Service ready,", ">,EHLO EX02.contoso.com,",
			"<,250-EX01.contoso.com Hello [10.20.0.12],", "<,250-SIZE 37748736,", "<,250-AUTH NTLM,", "<,250 CHUNKING,",
			">,QUIT,", "<,221 2.0.0 Service closing transmission channel,", "-,,Local"),
		quit: true,
	}, {
		name: "2016 joined reply, after X-ANONYMOUSTLS",
		text: sendHeader + rows(conn, "08DE000000000002", local, remote, 0,
			"+,,", "<,220 EX01.contoso.com ready,", ">,EHLO EX02.contoso.com,",
			"<,250 EX01.contoso.com Hello [10.20.0.12] SIZE 37748736 STARTTLS X-ANONYMOUSTLS AUTH NTLM,",
			">,X-ANONYMOUSTLS,", "<,220 2.0.0 SMTP server ready,", ">,EHLO EX02.contoso.com,",
			"<,250 EX01.contoso.com Hello [10.20.0.12] SIZE 37748736 AUTH NTLM,", ">,QUIT,", "<,221 2.0.0 Bye,", "-,,Local"),
		quit: true,
	}, {
		name: "delivered: no QUIT after EHLO",
		text: sendHeader + rows(conn, "08DE000000000003", local, remote, 0,
			"+,,", "<,220 EX01.contoso.com ready,", ">,EHLO EX02.contoso.com,",
			"<,250 EX01.contoso.com Hello [10.20.0.12] SIZE 37748736 X-EXPS GSSAPI NTLM,", ">,X-EXPS GSSAPI,", "<,235 <authentication response>,",
			">,MAIL FROM:<a@contoso.com>,", "<,250 2.1.0 Sender OK,", ">,QUIT,", "<,221 2.0.0 Bye,", "-,,Local"),
		exps: true,
	}, {
		name: "X-EXPS offered, authentication failed",
		text: sendHeader + rows(conn, "08DE000000000004", local, remote, 0,
			"+,,", "<,220 EX01.contoso.com ready,", ">,EHLO EX02.contoso.com,",
			"<,250 EX01.contoso.com Hello [10.20.0.12] SIZE 37748736 X-EXPS GSSAPI NTLM,", ">,X-EXPS GSSAPI,",
			"*,,Outbound Exchange Authentication failed with TargetUnknown", ">,QUIT,", "<,221 2.0.0 Bye,", "-,,Local"),
		exps: true,
		info: "Outbound Exchange Authentication failed with TargetUnknown",
	}, {
		name: "receive side: Inbound ExchangeAuth negotiation failed",
		text: recvHeader + rows(`EX01\Default EX01`, "08DE000000000005", remote, local, 0,
			"+,,", ">,220 EX01.contoso.com ready,", "<,EHLO EX02.contoso.com,",
			">,250 EX01.contoso.com Hello [10.20.0.12] SIZE 37748736 X-EXPS GSSAPI NTLM,", "<,X-EXPS GSSAPI,",
			`*,,"Inbound ExchangeAuth negotiation failed because of SEC_E_LOGON_DENIED, ""quoted"""`, "<,QUIT,", ">,221 2.0.0 Bye,", "-,,Local"),
		exps: true,
		info: `Inbound ExchangeAuth negotiation failed because of SEC_E_LOGON_DENIED, "quoted"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := buildSessions(t, 1, logFile{name: "EX02/Hub/ProtocolLog/SmtpSend/SEND.LOG", text: tt.text})
			if len(got) != 1 {
				t.Fatalf("%d sessions", len(got))
			}
			s := got[0]
			if s.QuitAfterEHLO != tt.quit || s.OfferedEXPS != tt.exps || !s.EHLOReplied {
				t.Errorf("QuitAfterEHLO %v OfferedEXPS %v EHLOReplied %v; want %v %v true", s.QuitAfterEHLO, s.OfferedEXPS, s.EHLOReplied, tt.quit, tt.exps)
			}
			switch {
			case tt.info == "" && len(s.ExchangeAuthInfo) != 0:
				t.Errorf("ExchangeAuthInfo = %v", s.ExchangeAuthInfo)
			case tt.info != "" && (len(s.ExchangeAuthInfo) != 1 || s.ExchangeAuthInfo[0].Text != tt.info || s.ExchangeAuthInfo[0].At.Line == 0):
				t.Errorf("ExchangeAuthInfo = %+v, want %q", s.ExchangeAuthInfo, tt.info)
			}
		})
	}
}
