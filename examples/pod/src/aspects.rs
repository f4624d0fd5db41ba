//! Aspects, as diaspora* has them: a person's named sets of contacts (the people they follow
//! or who follow them, here or elsewhere), to write posts only those people read.

use anyhow::{Result, bail};

use crate::app::Instance;

/// Why an aspect change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AspectError {
    /// The person has an aspect of that name.
    #[error("you have an aspect of that name already")]
    NameTaken,
    /// No such aspect of the person's.
    #[error("no such aspect of yours")]
    NoSuchAspect,
    /// Only contacts go in aspects.
    #[error("only the people you follow or who follow you go in aspects")]
    NotAContact,
}

impl Instance {
    /// Makes aspect `name` of local person `owner`; its id.
    pub async fn create_aspect(&self, owner: &str, name: &str) -> Result<String> {
        self.state().live_actor(owner).await?;
        match self.db().create_aspect(owner, name).await? {
            Some(aspect) => Ok(aspect.id),
            None => bail!(AspectError::NameTaken),
        }
    }

    /// Puts `member` (an actor id, one of `owner`'s contacts) in `owner`'s aspect `aspect`.
    pub async fn add_to_aspect(&self, owner: &str, aspect: &str, member: &str) -> Result<()> {
        if !self.contacts(owner).await?.iter().any(|c| c == member) {
            bail!(AspectError::NotAContact);
        }
        if !self
            .db()
            .set_membership(owner, aspect, member, true)
            .await?
        {
            bail!(AspectError::NoSuchAspect);
        }
        Ok(())
    }

    /// Takes `member` out of `owner`'s aspect `aspect`.
    pub async fn remove_from_aspect(&self, owner: &str, aspect: &str, member: &str) -> Result<()> {
        if !self
            .db()
            .set_membership(owner, aspect, member, false)
            .await?
        {
            bail!(AspectError::NoSuchAspect);
        }
        Ok(())
    }
}
