//! Group memberships: add, remove, list.

use super::*;

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupView {
    pub group: String,
    pub members: Vec<String>,
}

/// Validate a group name (`ops`, `role:admin`; without the `group:` prefix).
pub fn parse_group(name: &str) -> Result<&str> {
    let name = name.strip_prefix("group:").unwrap_or(name);
    if is_group_name(name) {
        Ok(name)
    } else {
        Err(Error::usage(format!("invalid group name '{name}'"))
            .with_hint("1–128 letters, digits, '.', '_', '@', ':' or '-', e.g. ops or role:admin"))
    }
}

/// Add (`add = true`) or remove principals; returns the group afterwards.
/// Adding an existing member is a no-op; removing a non-member is not found.
pub fn change_group(
    store: &mut Store,
    ctx: &Ctx,
    group: &str,
    principals: &[Principal],
    add: bool,
) -> Result<GroupView> {
    let group = parse_group(group)?.to_owned();
    store.write(|tx| {
        let mut changed = Vec::new();
        for p in principals {
            let m = Membership {
                group: group.clone(),
                principal: p.to_string(),
            };
            let did = if add {
                tx.add_member(&m, ctx.now, &ctx.actor)?
            } else if tx.remove_member(&m)? {
                true
            } else {
                return Err(Error::not_found(format!(
                    "{p} is not a member of group {group}"
                )));
            };
            if did {
                changed.push(p.to_string());
            }
        }
        if !changed.is_empty() {
            let event = NewEvent::new(
                types::GROUP_CHANGED,
                &ctx.actor,
                Some(format!("group:{group}")),
            )
            .details(json!({ if add { "added" } else { "removed" }: changed }));
            tx.append_audit(event, ctx.now)?;
        }
        let members = tx
            .members()?
            .into_iter()
            .filter(|m| m.group == group)
            .map(|m| m.principal)
            .collect();
        Ok(GroupView { group, members })
    })
}

/// Every group with members.
pub fn groups(store: &mut Store) -> Result<Vec<GroupView>> {
    let members = store.read(|tx| tx.members())?;
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in members {
        by.entry(m.group).or_default().push(m.principal);
    }
    Ok(by
        .into_iter()
        .map(|(group, members)| GroupView { group, members })
        .collect())
}
