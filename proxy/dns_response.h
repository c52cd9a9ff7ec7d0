// Answers the proxy makes up itself instead of relaying the upstream's (SPEC.md "Verdicts on the
// wire"): REFUSED or NXDOMAIN for a denied query, SERVFAIL when the upstream fails or the proxy
// is over its limit, FORMERR or NOTIMP for a query it cannot judge.
#pragma once

#include <cstdint>
#include <vector>

#include "proxy/dns_message.h"

namespace portcullis::proxy {

// The query's ID and question echoed, QR set, opcode, RD and CD copied, RA set (the proxy
// stands in for a recursive resolver, as the upstream it hides is one), no records.
std::vector<uint8_t> buildDnsAnswer(const DnsMessage& query, DnsRcode rcode);

// For a query whose question could not be read: the header's ID, opcode, RD and CD, no
// question (RFC 1035 4.1.1 leaves FORMERR's sections to the responder).
std::vector<uint8_t> buildDnsHeaderAnswer(const DnsHeader& query, DnsRcode rcode);

}  // namespace portcullis::proxy
