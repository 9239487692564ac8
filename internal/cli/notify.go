package cli

import (
	"bytes"
	"fmt"
	"mime"
	"os/exec"
	"strings"
	"time"

	"ferry/internal/config"
	"ferry/internal/toss"
	"ferry/internal/wire"
)

// notify mails the notification the config's notify section asks for
// after a packet was tossed: through neigh.self.exec.sendmail, as NNCP
// does. A failure is logged; the packet is processed either way.
func (x *ctx) notify(ev *toss.Event) {
	n := x.cfg.Notify
	if n == nil || ev.Outcome != toss.Done || ev.Sender == nil {
		return
	}
	from := ev.Sender.Name
	var ft *config.FromTo
	var subject, body string
	switch ev.Type {
	case wire.TypeFile:
		ft = n.File
		subject = fmt.Sprintf("File from %s: %s (%s)", from, ev.Dst, humanSize(ev.Size))
		body = fmt.Sprintf("File %s (%s) from %s was saved as %s\n", ev.Dst, humanSize(ev.Size), from, ev.Saved)
	case wire.TypeFreq:
		ft = n.Freq
		subject = fmt.Sprintf("Freq from %s: %s", from, ev.Src)
		body = fmt.Sprintf("%s requested %s (saved there as %s)\n", from, ev.Saved, ev.Dst)
	case wire.TypeExec, wire.TypeExecFat:
		ft = n.Exec[from+"."+ev.Handle]
		if ft == nil {
			ft = n.Exec["*."+ev.Handle]
		}
		subject = fmt.Sprintf("Exec from %s: %s", from, ev.Dst)
		body = string(ev.Output)
	}
	if ft == nil || ft.To == "" {
		return
	}
	self, ok := x.cfg.Neigh["self"]
	argv := []string(nil)
	if ok {
		argv = self.Exec["sendmail"]
	}
	f := []kv{{"Node", ev.Sender.ID.String()}, {"Pkt", ev.Job.Name}, {"To", ft.To}}
	if len(argv) == 0 {
		x.log.fail("notify", f, fmt.Errorf("neigh.self.exec.sendmail is not set"), "Notification not sent")
		return
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\nTo: %s\nSubject: %s\nDate: %s\nAuto-Submitted: auto-generated\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s",
		ft.From, ft.To, mimeWord(subject), time.Now().Format(time.RFC1123Z), body)
	cmd := exec.Command(argv[0], append(append([]string(nil), argv[1:]...), ft.To)...)
	cmd.Stdin = &msg
	if out, err := cmd.CombinedOutput(); err != nil {
		x.log.fail("notify", append(f, kv{"Output", strings.TrimSpace(string(out))}), err, "Notification not sent")
		return
	}
	x.log.info("notify", f, fmt.Sprintf("Notification sent to %s: %s", ft.To, subject))
}

// mimeWord encodes a header value that is not plain ASCII.
func mimeWord(s string) string { return mime.QEncoding.Encode("utf-8", s) }
