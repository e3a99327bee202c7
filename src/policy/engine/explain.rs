//! Rendering a decision, with near misses when asked.

use super::*;

impl Compiled {
    /// Render an outcome, with near misses when `explain` is set.
    pub fn render<'a>(
        &'a self,
        req: &Request<'a>,
        extra_groups: &[String],
        outcome: &Outcome,
        explain: bool,
    ) -> Decision<'a> {
        // Start every card's read before using any (see `decide`).
        for h in &outcome.hits {
            std::hint::black_box(self.cards[h.grant as usize].id_len);
        }
        let matched = outcome
            .hits
            .iter()
            .map(|h| {
                let (id, effect, subject) =
                    self.cards[h.grant as usize].get().unwrap_or_else(|| {
                        let g = self.grant(h.grant);
                        (&g.id, g.effect.as_str(), g.subject.as_str())
                    });
                // A grant is only ever reached under its own subject, so
                // `via` is that subject when it is a group; no read of the
                // subject table needed.
                let via = subject.starts_with("group:").then_some(subject);
                debug_assert_eq!(via, self.via(h.subject));
                Matched {
                    id,
                    effect,
                    subject,
                    via,
                }
            })
            .collect();
        let near_misses = explain.then(|| {
            let mut out = Vec::new();
            for sid in self.subject_list(req.principal, extra_groups) {
                for &gi in &self.subject_grants[sid as usize] {
                    let g = self.grant(gi);
                    if g.is_superuser() {
                        continue;
                    }
                    let action_ok = g.actions.contains(req.action);
                    let resource_ok = g.resource.matches(req.kind, req.name);
                    let failed_on = match (action_ok, resource_ok) {
                        (false, true) => "action",
                        (true, false) => "resource",
                        _ => continue,
                    };
                    out.push(NearMiss {
                        id: &g.id,
                        effect: g.effect.as_str(),
                        subject: g.subject.as_str(),
                        via: self.via(sid),
                        actions: g.actions.names(),
                        resource: g.resource.to_string(),
                        failed_on,
                    });
                }
            }
            out
        });
        Decision {
            decision: if outcome.allow { "allow" } else { "deny" },
            reason: outcome.reason,
            matched,
            snapshot: self.version,
            near_misses,
        }
    }
}
