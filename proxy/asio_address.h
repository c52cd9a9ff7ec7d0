// Conversions between our IpAddress (policy's vocabulary) and Asio's addresses, written once for
// every listener, session and log entry of the proxy.
#pragma once

#include <boost/asio/ip/address.hpp>

#include "common/ip_address.h"

namespace portcullis::proxy {

boost::asio::ip::address toAsio(const IpAddress& address);

// The same family as `address`: an IPv4-mapped IPv6 address stays IPv6.
IpAddress fromAsio(const boost::asio::ip::address& address);

// An IPv4-mapped IPv6 address as its IPv4 form, so policy CIDRs see one family per host.
boost::asio::ip::address unmapped(const boost::asio::ip::address& address);

// The address a policy flow carries: fromAsio(unmapped(address)).
IpAddress flowAddress(const boost::asio::ip::address& address);

}  // namespace portcullis::proxy
