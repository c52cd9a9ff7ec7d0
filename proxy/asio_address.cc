#include "proxy/asio_address.h"

#include <algorithm>

namespace portcullis::proxy {

boost::asio::ip::address toAsio(const IpAddress& address) {
  if (address.isV4()) return boost::asio::ip::address_v4(address.v4HostOrder());
  boost::asio::ip::address_v6::bytes_type bytes;
  std::copy(address.bytes().begin(), address.bytes().end(), bytes.begin());
  return boost::asio::ip::address_v6(bytes);
}

IpAddress fromAsio(const boost::asio::ip::address& address) {
  if (address.is_v4()) return IpAddress::v4(address.to_v4().to_uint());
  return IpAddress::v6(address.to_v6().to_bytes());
}

boost::asio::ip::address unmapped(const boost::asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

IpAddress flowAddress(const boost::asio::ip::address& address) {
  return fromAsio(unmapped(address));
}

}  // namespace portcullis::proxy
