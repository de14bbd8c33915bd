"""The owner's envelope around every record: who owns it, how it may be handled, who may see it.

The vocabularies are the ones police analysts use (Europol handling codes, 4x4 grading, Annex II
data-subject categories, INTERPOL notices), so they are enums here and nowhere else."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Database(StrEnum):
    wanted_persons = "wanted_persons"
    missing_persons = "missing_persons"
    terrorist_fighters = "terrorist_fighters"
    travel_documents = "travel_documents"
    vehicles = "vehicles"
    vessels = "vessels"
    firearms = "firearms"
    crime_groups = "crime_groups"
    intelligence = "intelligence"


# Databases whose records a supervisor must approve before they are shared (INTERPOL-style review).
REVIEWED_DATABASES = frozenset(
    {Database.wanted_persons, Database.missing_persons, Database.terrorist_fighters}
)

# Default review period in years, per database, after which a record stops being shared.
REVIEW_YEARS: dict[Database, int] = {db: 5 for db in Database} | {Database.intelligence: 3}


class Handling(StrEnum):
    H0 = "H0"  # use only to prevent and combat crime
    H1 = "H1"  # not to be used in judicial proceedings without the owner's permission
    H2 = "H2"  # not to be passed on without the owner's permission
    H3 = "H3"  # other restrictions stated by the owner


class Reliability(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    X = "X"


class Accuracy(StrEnum):
    known_true = "1"
    known_to_source = "2"
    corroborated = "3"
    cannot_be_assessed = "4"


class SubjectCategory(StrEnum):
    suspect = "suspect"
    convicted = "convicted"
    victim = "victim"
    witness = "witness"
    contact = "contact"
    informant = "informant"
    missing_person = "missing_person"


class NoticeType(StrEnum):
    red = "red"
    yellow = "yellow"
    blue = "blue"
    black = "black"
    green = "green"
    orange = "orange"
    purple = "purple"
    un_special = "un_special"
    diffusion = "diffusion"


class ReviewStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Restrictions(BaseModel):
    """The owner's access conditions. Empty allow-lists mean "no allow-list"."""

    model_config = ConfigDict(extra="forbid")

    allow_agencies: list[str] = Field(default_factory=list)
    deny_agencies: list[str] = Field(default_factory=list)
    allow_countries: list[str] = Field(default_factory=list)
    deny_countries: list[str] = Field(default_factory=list)
    # H2: agencies the owner has permitted to pass the record on (recorded permission).
    passing_permitted: list[str] = Field(default_factory=list)
    # H3: the owner's own conditions, shown to every reader entitled to the record.
    conditions: str | None = None

    @model_validator(mode="after")
    def _normalise(self) -> Restrictions:
        self.allow_agencies = sorted({a.upper() for a in self.allow_agencies})
        self.deny_agencies = sorted({a.upper() for a in self.deny_agencies})
        self.allow_countries = sorted({c.upper() for c in self.allow_countries})
        self.deny_countries = sorted({c.upper() for c in self.deny_countries})
        self.passing_permitted = sorted({a.upper() for a in self.passing_permitted})
        return self


class Envelope(BaseModel):
    """Everything about a record that is not the entity itself."""

    model_config = ConfigDict(extra="forbid")

    database: Database
    owner: str
    handling: Handling = Handling.H0
    reliability: Reliability = Reliability.X
    accuracy: Accuracy = Accuracy.cannot_be_assessed
    subject_category: SubjectCategory | None = None
    notice_type: NoticeType | None = None
    restrictions: Restrictions = Field(default_factory=Restrictions)
    review_at: date | None = None
    case_ref: str | None = None
    provenance: str | None = None
    status: ReviewStatus = ReviewStatus.approved
