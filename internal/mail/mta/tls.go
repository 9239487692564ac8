package mta

import "crypto/tls"

// insecureTLS accepts any certificate: for relays the config marks
// insecure (self-signed test servers, private CAs not installed).
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
