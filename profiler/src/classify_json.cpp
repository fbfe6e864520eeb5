// The JSON form of the classification rules (version 2; version 1 documents still load) and the rules file
// on disk. Every error names where it is: "rule 3: category: ...", "annotation 1: phase: ...",
// "version: ...", "include 0: ...".
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "classify_internal.h"
#include "scmoe/profiler/classify.h"
#include "scmoe/profiler/formats/atomic_file.h"

namespace scmoe::prof {

namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 3> kScopeNames = {"any", "device", "host"};
constexpr std::array<std::string_view, 5> kPhaseNames = {"", "none", "dispatch", "combine", "communication"};
constexpr std::array<std::string_view, 5> kPassNames = {"", "none", "forward", "backward", "weight_grad"};
constexpr std::array<std::string_view, 2> kComputePolicyNames = {"computation", "communication"};
constexpr int kMaxNesting = 16;  // rules documents are flat: anything deeper is not one

template <std::size_t N>
std::string choices(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::string_view n : names) {
    if (n.empty()) continue;
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// The index of `name` in `names` (empty names never match), or -1.
template <std::size_t N>
int index_of(const std::array<std::string_view, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i) {
    if (!names[i].empty() && names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

// Deepest bracket nesting of a JSON text, strings skipped; stops counting past `limit`.
int nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size() && deepest <= limit; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

// A rules document before its includes are resolved.
struct Document {
  int version = 2;
  std::vector<ClassificationRule> rules;
  std::vector<AnnotationRule> annotations;
  std::optional<RulesPolicy> policy;
  std::vector<std::string> includes;
};

// Every member of `object` must be one of `known`; "" or the error.
std::string check_members(const json& object, std::initializer_list<std::string_view> known, const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    return where + "unknown field \"" + key + "\" (expected " + list + ")";
  }
  return "";
}

std::string string_member(const json& object, const char* key, const std::string& where, std::string& out) {
  const auto it = object.find(key);
  if (it == object.end()) return "";
  if (!it->is_string()) return where + key + ": expected a string";
  out = it->get<std::string>();
  return "";
}

std::string read_rule(const json& j, const std::string& where, const std::string& family, ClassificationRule& r) {
  if (!j.is_object()) return where + "expected an object";
  if (std::string err = check_members(j, {"name", "arg", "arg_value", "scope", "category", "family"}, where); !err.empty()) {
    return err;
  }
  std::string scope = "any", category;
  r.family = family;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"name", &r.name_regex}, {"arg", &r.arg_key},
                          {"arg_value", &r.arg_value_regex}, {"scope", &scope}, {"category", &category},
                          {"family", &r.family}}) {
    if (std::string err = string_member(j, key, where, *out); !err.empty()) return err;
  }
  const int s = index_of(kScopeNames, scope);
  if (s < 0) return where + "scope: unknown scope \"" + scope + "\" (" + choices(kScopeNames) + ")";
  r.scope = static_cast<RuleScope>(s);
  if (!j.contains("category")) return where + "category: missing";
  const auto c = category_from_name(category);
  if (!c) return where + "category: unknown category \"" + category + "\"";
  r.category = *c;
  return "";
}

std::string read_annotation(const json& j, const std::string& where, const std::string& family, AnnotationRule& r) {
  if (!j.is_object()) return where + "expected an object";
  if (std::string err = check_members(j, {"name", "phase", "pass", "layer", "family"}, where); !err.empty()) return err;
  std::string phase, pass;
  r.family = family;
  for (auto [key, out] : {std::pair<const char*, std::string*>{"name", &r.name_regex}, {"phase", &phase},
                          {"pass", &pass}, {"family", &r.family}}) {
    if (std::string err = string_member(j, key, where, *out); !err.empty()) return err;
  }
  if (!j.contains("name")) return where + "name: missing";
  if (!phase.empty()) {
    const int p = index_of(kPhaseNames, phase);
    if (p < 0) return where + "phase: unknown phase \"" + phase + "\" (" + choices(kPhaseNames) + ")";
    r.phase = static_cast<AnnotatedPhase>(p);
  }
  if (!pass.empty()) {
    const int p = index_of(kPassNames, pass);
    if (p < 0) return where + "pass: unknown pass \"" + pass + "\" (" + choices(kPassNames) + ")";
    r.pass = static_cast<AnnotatedPass>(p);
  }
  if (const auto layer = j.find("layer"); layer != j.end()) {
    if (!layer->is_boolean()) return where + "layer: expected true or false";
    r.layer = layer->get<bool>();
  }
  if (r.phase == AnnotatedPhase::Unset && r.pass == AnnotatedPass::Unset && !r.layer) {
    return where + "says nothing: give a phase, a pass or \"layer\": true";
  }
  return "";
}

std::string read_policy(const json& j, RulesPolicy& policy) {
  if (!j.is_object()) return "policy: expected an object";
  if (std::string err = check_members(j, {"compute_in_comm_annotation"}, "policy: "); !err.empty()) return err;
  std::string value = "computation";
  if (std::string err = string_member(j, "compute_in_comm_annotation", "policy: ", value); !err.empty()) return err;
  const int p = index_of(kComputePolicyNames, value);
  if (p < 0) {
    return "policy: compute_in_comm_annotation: unknown value \"" + value + "\" (" + choices(kComputePolicyNames) + ")";
  }
  policy.compute_in_comm_annotation = static_cast<AnnotatedCompute>(p);
  return "";
}

// Parses one document (includes are only listed). "" or the error.
std::string parse_document(std::string_view text, Document& doc) {
  if (nesting_depth(text, kMaxNesting) > kMaxNesting) {
    return "nested deeper than " + std::to_string(kMaxNesting) + " levels (not a rules document)";
  }
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse errors, and numbers out of range (1e400)
    return std::string("not valid JSON: ") + e.what();
  }
  if (!root.is_object()) return "expected a JSON object with \"version\" and \"rules\"";
  if (std::string err = check_members(root, {"version", "family", "description", "include", "rules", "annotations", "policy"}, "");
      !err.empty()) {
    return err;
  }
  const auto version = root.find("version");
  if (version == root.end()) return "version: missing (this build reads versions 1 and 2)";
  if (!version->is_number_integer() || (version->get<long long>() != 1 && version->get<long long>() != 2)) {
    return "version: unknown version " + version->dump() + " (this build reads versions 1 and 2)";
  }
  doc.version = static_cast<int>(version->get<long long>());
  if (doc.version == 1) {
    if (std::string err = check_members(root, {"version", "rules"}, "version 1: "); !err.empty()) return err;
  }
  std::string family, description;
  if (std::string err = string_member(root, "family", "", family); !err.empty()) return err;
  if (std::string err = string_member(root, "description", "", description); !err.empty()) return err;

  const auto rules = root.find("rules");
  if (rules != root.end() && !rules->is_array()) return "rules: expected an array";
  if (rules == root.end() && doc.version == 1) return "rules: expected an array";
  if (rules != root.end()) {
    for (std::size_t i = 0; i < rules->size(); ++i) {
      ClassificationRule r;
      if (std::string err = read_rule((*rules)[i], "rule " + std::to_string(i) + ": ", family, r); !err.empty()) return err;
      doc.rules.push_back(std::move(r));
    }
  }
  if (const auto list = root.find("annotations"); list != root.end()) {
    if (!list->is_array()) return "annotations: expected an array";
    for (std::size_t i = 0; i < list->size(); ++i) {
      AnnotationRule r;
      if (std::string err = read_annotation((*list)[i], "annotation " + std::to_string(i) + ": ", family, r); !err.empty()) {
        return err;
      }
      doc.annotations.push_back(std::move(r));
    }
  }
  if (const auto p = root.find("policy"); p != root.end()) {
    RulesPolicy policy;
    if (std::string err = read_policy(*p, policy); !err.empty()) return err;
    doc.policy = policy;
  }
  if (const auto list = root.find("include"); list != root.end()) {
    if (!list->is_array()) return "include: expected an array of preset names";
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (!(*list)[i].is_string()) return "include " + std::to_string(i) + ": expected a preset name";
      doc.includes.push_back((*list)[i].get<std::string>());
    }
  }
  return "";
}

// Appends the rules of the presets a document includes ("defaults": all of them, in their order).
std::string resolve_includes(Document& doc) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < doc.includes.size(); ++i) {
    const std::string& name = doc.includes[i];
    if (name == "defaults") {
      const auto& all = ClassificationRules::preset_names();
      names.insert(names.end(), all.begin(), all.end());
    } else if (ClassificationRules::preset_text(name).empty()) {
      std::string known = "defaults";
      for (const std::string& n : ClassificationRules::preset_names()) known += ", " + n;
      return "include " + std::to_string(i) + ": unknown preset \"" + name + "\" (" + known + ")";
    } else {
      names.push_back(name);
    }
  }
  for (const std::string& name : names) {
    Document preset;
    if (std::string err = parse_document(ClassificationRules::preset_text(name), preset); !err.empty()) {
      return "preset " + name + ": " + err;
    }
    if (!preset.includes.empty()) return "preset " + name + ": presets include nothing";
    doc.rules.insert(doc.rules.end(), preset.rules.begin(), preset.rules.end());
    doc.annotations.insert(doc.annotations.end(), preset.annotations.begin(), preset.annotations.end());
  }
  return "";
}

json rule_json(const ClassificationRule& r) {
  json j;
  j["name"] = r.name_regex;
  if (!r.arg_key.empty()) j["arg"] = r.arg_key;
  if (!r.arg_value_regex.empty()) j["arg_value"] = r.arg_value_regex;
  j["scope"] = std::string(kScopeNames[static_cast<std::size_t>(r.scope)]);
  j["category"] = std::string(category_name(r.category));
  if (!r.family.empty()) j["family"] = r.family;
  return j;
}

json annotation_json(const AnnotationRule& r) {
  json j;
  j["name"] = r.name_regex;
  if (r.phase != AnnotatedPhase::Unset) j["phase"] = std::string(phase_name(r.phase));
  if (r.pass != AnnotatedPass::Unset) j["pass"] = std::string(pass_name(r.pass));
  if (r.layer) j["layer"] = true;
  if (!r.family.empty()) j["family"] = r.family;
  return j;
}

// Reads a rules file of at most kMaxRulesFileBytes; a FIFO or device is refused before reading.
std::string read_rules_file(const std::string& path, std::string& text) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return "cannot open: " + std::string(std::strerror(errno));
  struct stat st {};
  std::string err;
  if (::fstat(fd, &st) != 0) {
    err = "cannot stat: " + std::string(std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    err = "not a regular file";
  } else if (static_cast<std::uint64_t>(st.st_size) > kMaxRulesFileBytes) {
    err = "larger than " + std::to_string(kMaxRulesFileBytes >> 20) + " MiB (" + std::to_string(st.st_size) +
          " bytes): not a rules file";
  } else {
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    text.resize(done);
  }
  ::close(fd);
  return err;
}

}  // namespace

std::string_view phase_name(AnnotatedPhase p) { return kPhaseNames[static_cast<std::size_t>(p)]; }
std::string_view pass_name(AnnotatedPass p) { return kPassNames[static_cast<std::size_t>(p)]; }

std::string ClassificationRules::to_json() const {
  json rules = json::array(), annotations = json::array();
  for (const ClassificationRule& r : rules_) rules.push_back(rule_json(r));
  for (const AnnotationRule& r : annotation_rules_) annotations.push_back(annotation_json(r));
  json policy = {{"compute_in_comm_annotation",
                  std::string(kComputePolicyNames[static_cast<std::size_t>(policy_.compute_in_comm_annotation)])}};
  return json{{"version", 2}, {"rules", std::move(rules)}, {"annotations", std::move(annotations)},
              {"policy", std::move(policy)}}
             .dump(2) +
         "\n";
}

std::string ClassificationRules::from_json(std::string_view text) {
  Document doc;
  if (std::string err = parse_document(text, doc); !err.empty()) return err;
  if (std::string err = resolve_includes(doc); !err.empty()) return err;
  ClassificationRules next = *this;
  if (std::string err = next.set_rules(std::move(doc.rules)); !err.empty()) return err;
  if (doc.version == 2) {
    // Version 1 had no annotation rules or policy: the current ones stay.
    if (std::string err = next.set_annotation_rules(std::move(doc.annotations)); !err.empty()) return err;
    next.policy_ = doc.policy.value_or(RulesPolicy{});
  }
  *this = std::move(next);
  return "";
}

std::string ClassificationRules::load_file(const std::string& path) {
  std::string text;
  if (std::string err = read_rules_file(path, text); !err.empty()) return path + ": " + err;
  if (std::string err = from_json(text); !err.empty()) return path + ": " + err;
  return "";
}

std::string ClassificationRules::save_file(const std::string& path) const {
  return formats::write_file_atomically(path, to_json());
}

}  // namespace scmoe::prof
