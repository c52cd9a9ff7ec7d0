#include "policy/model.h"

namespace portcullis::policy {

const char* toString(Direction d) { return d == Direction::kEgress ? "egress" : "ingress"; }

const char* toString(Protocol p) {
  switch (p) {
    case Protocol::kTcp: return "TCP";
    case Protocol::kUdp: return "UDP";
    case Protocol::kAny: return "ANY";
  }
  return "?";
}

const char* toString(L7Protocol p) {
  switch (p) {
    case L7Protocol::kHttp: return "http";
    case L7Protocol::kDns: return "dns";
    case L7Protocol::kTls: return "tls";
  }
  return "?";
}

}  // namespace portcullis::policy
