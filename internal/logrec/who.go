package logrec

// Who values NNCP 8.8.2 writes (CATALOG.md gives each one's fields and Msg).
const (
	WhoTx           = "tx"               // a packet was queued (file, exec, freq, ack, trns relay)
	WhoRx           = "rx"               // a packet was tossed
	WhoRxNoHandle   = "rx-no-handle"     // toss: exec handle not configured (Err: No handle found)
	WhoRxHandle     = "rx-handle"        // toss: exec handle failed (Err: exit status N, Output)
	WhoRxTx         = "rx-tx"            // toss: freq reply could not be queued
	WhoRxUnmarshal  = "rx-unmarshal"     // toss: packet does not decrypt/parse
	WhoRxOpen       = "rx-open"          // toss: packet from an unknown node
	WhoRxNoIncoming = "rx-no-incoming"   // toss: no incoming dir for the sender
	WhoRxNoFreq     = "rx-no-freq"       // toss: freq not allowed for the sender
	WhoXferTx       = "xfer-tx"          // xfer: packet copied out
	WhoXferTxMkdir  = "xfer-tx-mkdir"    // xfer: -mkdir failed
	WhoXferRx       = "xfer-rx"          // xfer: packet copied in
	WhoXferRxSeen   = "xfer-rx-seen"     // xfer: packet already in seen/
	WhoXferSelf     = "xfer-self"        // xfer, debug: own directory skipped
	WhoXferUnknown  = "xfer-rx-unknown"  // xfer, debug: directory of an unknown node
	WhoChecking     = "checking"         // check: packet fails its checksum
	WhoBundleTx     = "bundle-tx"        // bundle: packet written
	WhoBundleRx     = "bundle-rx"        // bundle: packet read (or bad checksum)
	WhoBundleExists = "bundle-rx-exists" // bundle, debug: packet already in rx
	WhoBundle       = "nncp-bundle"      // bundle, debug: packet for another node
	WhoRm           = "rm"               // rm: file removed
	WhoJob          = "job"              // debug: a spool job listed
)
