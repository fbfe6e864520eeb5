// Ports and addresses for the rendezvous: which port to serve the store on, whether it is free, and which
// local address leads to the store's host.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "scmoe/engine/launch.h"

namespace scmoe::engine::launch {

namespace {

class Socket {
 public:
  Socket(int family, int type) : fd_(socket(family, type | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  ~Socket() { close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// The first IPv4 or IPv6 address of `host`.
sockaddr_storage resolve(const std::string& host, int port, socklen_t& length) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int status = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (status != 0 || found == nullptr) {
    throw std::runtime_error("cannot resolve \"" + host + "\": " + gai_strerror(status));
  }
  sockaddr_storage address{};
  std::memcpy(&address, found->ai_addr, found->ai_addrlen);
  length = found->ai_addrlen;
  freeaddrinfo(found);
  return address;
}

}  // namespace

int pick_free_port(const std::string& host) {
  socklen_t length = 0;
  sockaddr_storage address = resolve(host, 0, length);
  Socket s(address.ss_family, SOCK_STREAM);
  if (bind(s.fd(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    throw std::runtime_error("cannot pick a free port on " + host + ": " + std::strerror(errno));
  }
  if (getsockname(s.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
  }
  return ntohs(address.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

std::string check_port_free(int port) {
  // The store listens on every address of the machine, so the port must be free on the wildcard one.
  // SO_REUSEADDR as the store sets it: a port whose last connection lingers in TIME_WAIT is usable.
  Socket s(AF_INET, SOCK_STREAM);
  const int on = 1;
  setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (bind(s.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return "";
  const int error = errno;
  if (error == EADDRINUSE) {
    return "port " + std::to_string(port) + " is in use on this machine (another run's store, or another "
           "program): choose another rendezvous port, or leave it out to have a free one picked";
  }
  return "cannot use port " + std::to_string(port) + ": " + std::strerror(error);
}

std::string local_address_towards(const std::string& host) {
  socklen_t length = 0;
  sockaddr_storage address = resolve(host, 9, length);
  // Connecting a UDP socket sends nothing: it only asks the kernel for the route, and so the source address.
  Socket s(address.ss_family, SOCK_DGRAM);
  if (connect(s.fd(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    throw std::runtime_error("no route to " + host + ": " + std::strerror(errno));
  }
  sockaddr_storage local{};
  socklen_t local_length = sizeof local;
  if (getsockname(s.fd(), reinterpret_cast<sockaddr*>(&local), &local_length) != 0) {
    throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
  }
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = local.ss_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
                                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
  inet_ntop(local.ss_family, raw, text, sizeof text);
  return text;
}

std::string this_executable() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error(std::string("cannot find this executable: ") + std::strerror(errno));
  return std::string(path, static_cast<std::size_t>(n));
}

}  // namespace scmoe::engine::launch
