// The expert-parallel communicator of one rank. Split sizes travel first (exchange_counts), then the rows
// (all_to_all, an All-to-All(v)), which is how NCCL does it too: a count exchange followed by grouped
// ncclSend/ncclRecv, so an NCCL implementation fits behind the same interface.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace scmoe::engine {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Blocks until every rank of the group has arrived.
  virtual void barrier() = 0;
  // All-to-all of equal-length integer blocks: block d of `send` goes to rank d; the result holds block s
  // from rank s.
  virtual std::vector<std::int64_t> exchange_counts(const std::vector<std::int64_t>& send) = 0;
  // All-to-All(v) of rows: `send` rows are grouped by destination with send_splits[d] rows for rank d; the
  // result holds recv_splits[s] rows from each rank s, in rank order.
  virtual at::Tensor all_to_all(const at::Tensor& send, const std::vector<std::int64_t>& send_splits,
                                const std::vector<std::int64_t>& recv_splits) = 0;
  // True when the time of all_to_all is modelled by an emulated link rather than measured.
  virtual bool emulated() const { return false; }
};

}  // namespace scmoe::engine
