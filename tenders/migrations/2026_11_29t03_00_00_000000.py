"""Tenders schema: tenders, lots, documents, enquiries, amendments, sealed bids and the opening record.

Sealed bids store nothing readable about their content: no price columns; prices and documents live only
inside `bid.sealed` (AES-256-GCM with the tender's data key, itself wrapped by the key-encryption key)
until the opening writes `opening_entry` and `bid.opened_content`. `bid_lot` holds which lots a bid
covers (needed for the one-live-bid-per-supplier-and-lot unique index), never a price.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenders: tenders, lots, documents, enquiries, amendments, bids, opening"

SQL = r"""
CREATE TABLE tender (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ocid text NOT NULL UNIQUE,
    agency_id uuid NOT NULL REFERENCES organisation (id),
    created_by uuid REFERENCES app_user (id),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description text NOT NULL DEFAULT '',
    method varchar(32) NOT NULL CHECK (method IN ('licitacion_publica', 'concurso_publico',
        'adjudicacion_simplificada', 'subasta_inversa_electronica', 'comparacion_precios',
        'contratacion_directa')),
    procurement_method varchar(16) NOT NULL CHECK (procurement_method IN ('open', 'selective', 'limited', 'direct')),
    category varchar(16) NOT NULL CHECK (category IN ('goods', 'services', 'works')),
    consultancy boolean NOT NULL DEFAULT false,
    currency char(3) NOT NULL DEFAULT 'PEN',
    state varchar(16) NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'published', 'tendering', 'opening',
        'evaluation', 'awarded', 'contracted', 'cancelled', 'unsuccessful')),
    enquiry_end timestamptz,
    submission_deadline timestamptz,
    opening_time timestamptz,
    standstill_days integer NOT NULL DEFAULT 0 CHECK (standstill_days >= 0),
    published_at timestamptz,
    opened_at timestamptz,
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    cancel_reason text,
    amendment_count integer NOT NULL DEFAULT 0,
    key_id text,
    wrapped_key bytea,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (consultancy = false OR category = 'services'),
    CHECK (enquiry_end IS NULL OR submission_deadline IS NULL OR enquiry_end <= submission_deadline),
    CHECK (opening_time IS NULL OR submission_deadline IS NULL OR opening_time >= submission_deadline)
);
CREATE INDEX tender_agency_idx ON tender (agency_id, created_at DESC);
-- The sweeper's work list: only tenders waiting on a clock.
CREATE INDEX tender_sweep_idx ON tender (state, submission_deadline)
    WHERE state IN ('published', 'tendering', 'opening');

CREATE TABLE tender_lot (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id) ON DELETE CASCADE,
    number integer NOT NULL CHECK (number >= 1),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description text NOT NULL DEFAULT '',
    estimated_value bigint NOT NULL CHECK (estimated_value >= 0),
    classification_scheme varchar(8) NOT NULL CHECK (classification_scheme IN ('UNSPSC', 'CPV')),
    classification_code varchar(16) NOT NULL,
    quantity numeric(18, 3) NOT NULL CHECK (quantity > 0),
    unit text NOT NULL,
    delivery_ubigeo varchar(6) NOT NULL CHECK (delivery_ubigeo ~ '^[0-9]{6}$'),
    state varchar(16) NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'published', 'tendering', 'opening',
        'evaluation', 'awarded', 'contracted', 'cancelled', 'unsuccessful')),
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    cancel_reason text,
    UNIQUE (tender_id, number),
    UNIQUE (tender_id, id)
);
CREATE INDEX tender_lot_classification_idx ON tender_lot (classification_code);

-- Documents are versioned: a new upload under the same document_id is the next version; old ones stay.
CREATE TABLE tender_document (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id) ON DELETE CASCADE,
    document_id uuid NOT NULL,
    version integer NOT NULL CHECK (version >= 1),
    lot_id uuid REFERENCES tender_lot (id) ON DELETE SET NULL,
    title text NOT NULL,
    filename text NOT NULL,
    media_type text NOT NULL,
    size bigint NOT NULL,
    sha256 char(64) NOT NULL,
    content bytea NOT NULL,
    uploaded_by uuid REFERENCES app_user (id),
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, version)
);
CREATE INDEX tender_document_tender_idx ON tender_document (tender_id, document_id, version);

CREATE TABLE tender_enquiry (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id) ON DELETE CASCADE,
    number integer NOT NULL,
    lot_id uuid REFERENCES tender_lot (id) ON DELETE SET NULL,
    question text NOT NULL,
    asker_org_id uuid NOT NULL REFERENCES organisation (id),
    asker_user_id uuid REFERENCES app_user (id),
    asked_at timestamptz NOT NULL,
    answer text,
    answered_by uuid REFERENCES app_user (id),
    answered_at timestamptz,
    UNIQUE (tender_id, number)
);

CREATE TABLE tender_amendment (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id) ON DELETE CASCADE,
    number integer NOT NULL,
    reason text NOT NULL,
    changes jsonb NOT NULL,
    material boolean NOT NULL,
    deadline_before timestamptz,
    deadline_after timestamptz,
    actor_user_id uuid REFERENCES app_user (id),
    actor_org_id uuid REFERENCES organisation (id),
    amended_at timestamptz NOT NULL,
    UNIQUE (tender_id, number)
);

-- Sealed bids: rows of their own, never inside the tender.
CREATE TABLE bid (
    id uuid PRIMARY KEY,
    tender_id uuid NOT NULL REFERENCES tender (id),
    supplier_id uuid NOT NULL REFERENCES organisation (id),
    submitted_by uuid,
    status varchar(16) NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'withdrawn')),
    sealed bytea NOT NULL,
    sha256 char(64) NOT NULL,
    key_id text NOT NULL,
    received_at timestamptz NOT NULL,
    signature text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    needs_reconfirmation boolean NOT NULL DEFAULT false,
    confirmed_at timestamptz,
    withdrawn_at timestamptz,
    opened_at timestamptz,
    opened_content jsonb
);
CREATE INDEX bid_tender_idx ON bid (tender_id);
CREATE INDEX bid_supplier_idx ON bid (supplier_id);

CREATE TABLE bid_lot (
    bid_id uuid NOT NULL REFERENCES bid (id) ON DELETE CASCADE,
    tender_id uuid NOT NULL,
    lot_id uuid NOT NULL,
    supplier_id uuid NOT NULL,
    live boolean NOT NULL DEFAULT true,
    PRIMARY KEY (bid_id, lot_id)
);
-- One live bid per supplier and lot.
CREATE UNIQUE INDEX bid_lot_one_live_idx ON bid_lot (lot_id, supplier_id) WHERE live;

-- The opening record: published once the bids are opened.
CREATE TABLE tender_opening (
    tender_id uuid PRIMARY KEY REFERENCES tender (id),
    opened_at timestamptz NOT NULL,
    opened_by uuid,
    bid_count integer NOT NULL,
    record jsonb NOT NULL
);

-- One row per opened bid and lot: the price read at the opening (what evaluation scores).
CREATE TABLE opening_entry (
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL REFERENCES tender_lot (id),
    bid_id uuid NOT NULL REFERENCES bid (id),
    supplier_id uuid NOT NULL REFERENCES organisation (id),
    price bigint NOT NULL CHECK (price >= 0),
    received_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, bid_id)
);
CREATE INDEX opening_entry_tender_idx ON opening_entry (tender_id, lot_id);
"""


async def forwards():
    return sql_migration(ID, "tenders", DESCRIPTION, SQL)
