#include "scmoe/ui/view_state.h"

namespace scmoe::ui {

ViewState::ViewState(QObject* parent) : QObject(parent) {}

void ViewState::setWindow(TimeWindow window) {
  constexpr std::int64_t kMinimumNs = 10;
  if (window.length() < kMinimumNs) {
    const std::int64_t centre = window.start_ns + window.length() / 2;
    window = {centre - kMinimumNs / 2, centre + kMinimumNs / 2};
  }
  if (window.start_ns == window_.start_ns && window.end_ns == window_.end_ns) return;
  window_ = window;
  emit windowChanged();
}

void ViewState::setSelection(std::optional<prof::SpanRef> selection) {
  if (selection == selection_) return;
  selection_ = selection;
  emit selectionChanged();
}

void ViewState::setMeasuredRange(std::optional<TimeWindow> range) {
  measured_ = range;
  emit measuredRangeChanged();
}

void ViewState::resetForNewTrace(TimeWindow full) {
  setSelection(std::nullopt);
  if (measured_) setMeasuredRange(std::nullopt);
  setWindow(full);
}

}  // namespace scmoe::ui
