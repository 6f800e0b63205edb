# tests/e2e/delivery_data_test.sh — the delivery test over the DATA path:
# the sink does not offer CHUNKING, so the engine sends MAIL/RCPT/DATA, waits
# for 354, sends the dot-stuffed body and pipelines the next transaction
# behind the ".". Same checks as delivery_test.sh (count, byte-for-byte
# sample, envelopes, Bcc, empty spool) on 5,000 messages.
DELIVERY_COUNT=5000 DELIVERY_SAMPLE_EVERY=100 DELIVERY_SINK_FLAGS=--no-chunking \
  exec bash "$(dirname "$0")/delivery_test.sh" "$@"
