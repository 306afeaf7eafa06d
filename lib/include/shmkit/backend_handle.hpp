// shmkit::BackendHandle: what a backend offers beyond the common Segment API, reached as
// segment.handle<MemfdHandle>() or segment.handle<FileSession>(). A handle belongs to its Segment
// and is valid while that Segment lives; handle<H>() is nullptr on a segment of another backend.
#pragma once

namespace shmkit {

class BackendHandle {
 public:
  virtual ~BackendHandle() = default;
  BackendHandle(const BackendHandle&) = delete;
  BackendHandle& operator=(const BackendHandle&) = delete;

 protected:
  BackendHandle() = default;
};

}  // namespace shmkit
