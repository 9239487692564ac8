// Package submit turns a sendmail(8) invocation into an envelope and a
// message: it parses the command line that cron, mailx, mutt, git
// send-email and other callers use, and prepares the message they pipe in.
//
// Where sendmail implementations differ, ferry follows Exim, whose
// behaviour the project's users already meet on their hubs:
//
//   - -t takes the recipients from To, Cc and Bcc (Resent-To, Resent-Cc,
//     Resent-Bcc when any Resent- field is present), and addresses given
//     as arguments are removed from that list, not added to it (Exim's
//     extract_addresses_remove_arguments; Postfix and sendmail 8 add them).
//     When nothing is left, Prepare fails with ErrNoRecipients, as Exim
//     does.
//   - Without -i or -oi, a line holding only "." ends the message (the rest
//     of the input is not read, Message.DotEnded says so). Lines that start
//     with a dot are otherwise kept as they are: local submission does no
//     dot-unstuffing.
//   - Each recipient argument may be an address list ("a@x, Bob <b@y>").
//   - Bcc and Resent-Bcc fields are removed even without -t (Exim keeps
//     them then; ferry carries messages through other people's hubs and
//     prefers not to leak them). This is the one deliberate departure.
//   - Date, Message-ID and From are added at the end of the header when
//     missing; nothing else in the header is rewritten, refolded or
//     re-encoded. Unqualified addresses are qualified in the envelope only.
//   - A first line "From ..." (Unix mbox separator) is dropped.
//   - A lone "-" argument, options after the first recipient (except after
//     "--") and unknown options are usage errors (exit 64) naming the
//     argument; -bv, -bt, -bd and other modes ferry lacks are
//     ErrUnsupported (exit 64); -q* and -bi are accepted no-ops (modes
//     ModeQueueRun, ModeNewAliases).
//   - Options that only tune a local MTA (-odX, -oeX, -oXvalue, -O, -L,
//     -X, -G, -U, -n, -m, -h, -p, -A, Exim's -oMx value) are accepted and
//     listed in Invocation.Ignored.
package submit
