#include "datapath/ruleset_generation.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace portcullis::datapath {

std::optional<uint32_t> NftRulesetGeneration::current() {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    nfgenmsg body;
  } request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.header.nlmsg_seq = 1;
  request.body.nfgen_family = AF_UNSPEC;
  request.body.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  alignas(nlmsghdr) char reply[512];
  ssize_t n = -1;
  if (::sendto(fd, &request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) ==
      static_cast<ssize_t>(sizeof request)) {
    n = ::recv(fd, reply, sizeof reply, 0);
  }
  ::close(fd);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nfgenmsg)))) return std::nullopt;
  const auto* header = reinterpret_cast<const nlmsghdr*>(reply);
  if (header->nlmsg_type == NLMSG_ERROR || header->nlmsg_len > static_cast<uint32_t>(n)) return std::nullopt;
  // Attributes follow the nfgenmsg; NFTA_GEN_ID is a big-endian u32.
  size_t offset = NLMSG_LENGTH(sizeof(nfgenmsg));
  while (offset + sizeof(nlattr) <= header->nlmsg_len) {
    nlattr attribute;
    std::memcpy(&attribute, reply + offset, sizeof attribute);
    if (attribute.nla_len < sizeof(nlattr)) break;
    if ((attribute.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && attribute.nla_len >= NLA_HDRLEN + 4) {
      uint32_t id = 0;
      std::memcpy(&id, reply + offset + NLA_HDRLEN, sizeof id);
      return ntohl(id);
    }
    offset += NLA_ALIGN(attribute.nla_len);
  }
  return std::nullopt;
}

}  // namespace portcullis::datapath
