"""The confidence each recogniser gives each kind of evidence, in one table so that it can be calibrated.

These numbers are NOT measured. They were fixed by hand, before any evaluation, to rank the evidence types
against each other (a checksum-validated number above a context-only guess); they are to be calibrated on a
benchmark later (issue 18's receipt and document-photo benchmarks) and replaced here, in one place. Until then
read them as an order, not as probabilities.
"""

from __future__ import annotations

CONFIDENCE: dict[str, float] = {
    # phone
    "phone.labelled": 0.95,  # valid number (phonenumbers, leniency VALID) with "Tel", "Phone", "HP", ... on the line or above
    "phone.international": 0.9,  # valid number written with a leading "+"
    "phone.formatted": 0.85,  # valid national number written with separators (spaces, dashes, brackets, dots)
    "phone.plain": 0.6,  # valid national number written as one run of digits, no label
    # e-mail, username
    "email.address": 0.95,  # local@domain.tld
    "email.spaced": 0.8,  # OCR put a space around the "@" (local part with a digit / dot / "_", or "E-mail" on the line)
    "username.labelled": 0.85,  # "Username: x", "Login: x", "User ID: x"
    "username.handle": 0.75,  # "@handle"
    # dates and times
    "date_time.date": 0.9,  # a calendar-valid numeric or month-name date
    "date_time.date_time": 0.92,  # a date with a time
    "date_time.month_year": 0.7,  # "March 2020"
    "date_time.time": 0.85,  # "15:44", "3:05 PM"
    "date_time.weekday_date": 0.85,  # "Mon 12 Mar"
    "date_time.expiry": 0.8,  # month / year after "VALID THRU", "Exp:", "Expiry date"
    "birth_date.labelled": 0.9,  # a date with "DOB", "Date of birth", "born", ... on the line
    "birth_date.label_above": 0.75,  # the label is on the line above
    "birth_date.year": 0.6,  # a year alone with a birth label ("born 1985")
    # names
    "name.labelled": 0.8,  # "Name: John Smith", "Cardholder: ..."
    "name.honorific": 0.75,  # "Mr John Smith", "Dr Tan"
    "name.salutation": 0.7,  # "Dear John,"
    "name.signature": 0.6,  # a name on the line after "Sincerely," / "Regards,"
    "name.above_address": 0.65,  # two or more name words alone on the line above a street address
    "name.above_role": 0.65,  # two or more name words alone above a job title or "Member since" (cards)
    "name.card_holder": 0.6,  # two or more name words alone within two lines of a card number
    "name.elsewhere": 0.6,  # words of a name found on another line of the same photo (evidence.reading)
    "name.patronymic": 0.7,  # "X bin Y", "X binti Y", "X a/l Y", "X a/p Y": Malay and Indian patronymic names
    "name.chat": 0.65,  # on a chat screen: the line above "online" / "last seen", or name words above a message
    "name.single_word": 0.55,  # one name word where the context says a name is there
    "name.ner": 0.65,  # spaCy PERSON, two or more name words, not a company / street / heading
    # addresses
    "address.complete": 0.85,  # number + street + postcode / city, on the line or in its address block
    "address.street_number": 0.7,  # number + street, no city yet
    "address.labelled": 0.7,  # "Address: ..." (the rest of the line)
    "address.continuation": 0.7,  # a postcode / city / unit line continuing an address block
    "address.postcode_city": 0.6,  # "50450 Kuala Lumpur", "Springfield, IL 62704"
    "address.street": 0.5,  # a street name alone ("Jalan Ampang")
    "address.po_box": 0.6,  # "P.O. Box 123"
    "address.block_neighbour": 0.55,  # a misread line inside an address block (privobf.evidence.reading)
    "address_us.complete": 0.85,  # usaddress: number, street, type and place / ZIP
    "address_us.street": 0.7,  # usaddress: number, street and type
    # cards, documents, plates
    "card.grouped": 0.9,  # Luhn-valid, plausible IIN, written in groups or with card context
    "card.plain": 0.8,  # Luhn-valid, plausible IIN, 16-19 digits in one run
    "card.masked": 0.5,  # "**** **** **** 1234" / "XXXXXXXXXXXX1234": the masking pattern is the evidence
    "mrz.verified": 0.95,  # an ICAO 9303 line whose check digits hold
    "mrz.structure": 0.7,  # an MRZ line with the right structure but no check digit of its own (names line)
    "id.labelled": 0.85,  # "Passport No: X1234567", "NRIC: ...", "Ausweis-Nr ..."
    "id.nric": 0.8,  # a Malaysian NRIC (YYMMDD-PB-####) with a valid birth date, unlabelled
    "plate.inside_plate": 0.8,  # 4-10 letters and digits on a line inside a plate region
    # labelled fields (fields.py): nationality, place of birth, marital status, occupation
    "field.labelled": 0.8,  # the value after its label on the line ("Nationality: Malaysian")
    "field.label_above": 0.7,  # the label alone on the line above (stacked card fields)
    # page-level layouts (layouts.py): the photo shows this kind of document or screen
    "layout.passport": 0.85,  # "PASSPORT" heading, or a verified passport MRZ
    "layout.id-card": 0.85,  # "IDENTITY CARD", "Personalausweis", "MyKad", ...
    "layout.drivers-licence": 0.85,  # "DRIVER LICENSE", "Führerschein", ...
    "layout.bank-card": 0.85,  # a Luhn-valid card number with "VALID THRU", a network or a bank word
    "layout.student-id": 0.8,  # "STUDENT CARD", "Student ID", "Kad Pelajar", ...
    "layout.mail": 0.7,  # a salutation and a closing below it, or a name above an address block (an envelope)
    "layout.receipt": 0.8,  # two receipt words (total, cash, change, GST, ...) and three prices
    "layout.ticket": 0.75,  # "BOARDING PASS" / "TICKET" with two travel words
    "layout.email-header": 0.8,  # "Subject:" with "From:" or "To:" starting lines
    "layout.chat": 0.75,  # messages stamped with times, with a chat word or five of them
    "layout.medicine-label": 0.7,  # a dose with an instruction or pharmacy word
    "layout.court-papers": 0.65,  # three different legal words
}
