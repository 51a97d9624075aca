"""Word lists the name and address recognisers share: words that are not names, and words that make a street.

A capitalised word is a name word only if it is not one of `NOT_NAME_WORDS`: receipt and form vocabulary
("TOTAL", "INVOICE", "Thank you"), function words, company suffixes and trade words ("SDN BHD", "Coffee"),
street words ("Jalan", "Street"). The lists are short on purpose: they stop the look-alikes the tests name and
the common headings of receipts, letters, cards and forms; they are not a dictionary.
"""

from __future__ import annotations

COMPANY_WORDS = frozenset(
    """
    sdn bhd berhad ltd limited inc incorporated llc llp plc gmbh ag sa sarl bv nv pty pte co corp corporation kg
    ohg srl spa oy ab company enterprise enterprises trading services service group holdings industries
    international global solutions systems technologies technology products store stores shop shops mart market
    supermarket hypermarket restaurant restoran cafe café coffee bakery kitchen bar grill hotel inn motel pharmacy
    clinic hospital bank centre center mall plaza tower building office agency consultancy construction
    engineering management marketing resources properties realty development logistics transport travel tours
    insurance finance capital partners associates foundation association society club church mosque temple
    hardware electrical electronics motor motors auto automotive kedai makan florist laundry salon saloon boutique
    studio media press publishing foods food beverages trading enterprise cinema cinemas airlines airways
    express station stationery bookstore books outlet outlets factory manufacturing industry
    """.split()
)

STREET_WORDS = frozenset(
    """
    street st road rd avenue ave av lane ln boulevard blvd drive dr court ct place pl square sq terrace way
    highway hwy parkway pkwy crescent cres close grove gardens row mews walk circle cir trail alley plaza
    esplanade parade quay jalan jln lorong lrg taman tmn persiaran lebuh lebuhraya rue strasse straße via calle
    avenida rua floor level suite unit block blk lot apt apartment bandar kampung kampong kg
    """.split()
)

FUNCTION_WORDS = frozenset(
    """
    a an the and or of for to in on at by with from as is are was were be been am this that these those it its
    we our us you your yours my me i he she they them their his her not no yes all any some each every more most
    less only also just please thank thanks welcome hello hi hey dear sir madam if then than so but nor via per
    have has had do does did will would shall should can could might must here there when where what who
    how why which while about after before over under up down out into onto off again see soon nice day good
    """.split()
)

DOCUMENT_WORDS = frozenset(
    """
    total subtotal sub grand tax gst sst vat charge charges rounding round adj adjustment cash change tender
    tendered paid payment payments amount amt balance due qty quantity price prices unit units item items
    description desc number date time invoice inv receipt bill order orders table cashier counter terminal pos
    member members points discount disc net gross tel phone fax email mail website www web address name page
    copy original customer customers merchant approved approval signature sign card visa mastercard debit credit
    account acct transaction trans ref reference batch trace auth code come visit opening hours closed open daily
    menu drinks drink beverage rice chicken noodle noodles tea latte mocha iced hot milk sugar water juice burger
    fries pizza set meal combo regular large small medium extra add takeaway delivery dine report summary
    statement notice letter form application certificate license licence passport identity national id republic
    kingdom united states government ministry department university school college institute student employee
    staff official confidential urgent important attention subject re regarding sincerely regards faithfully
    truly best kind warm wishes cheers new old free sale special offer promo today tomorrow yesterday morning
    evening night week month year annual monthly north south east west central city state country world
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun
    valued everyone team friends colleagues parents students members guests all customer client patient
    holder cardholder team info information contact details detail note notes terms conditions policy policies
    return returns refund exchange goods sold served server host mr mrs ms dr miss user admin administrator
    manager supervisor operator system default cashier salesperson
    """.split()
)

NOT_NAME_WORDS = COMPANY_WORDS | STREET_WORDS | FUNCTION_WORDS | DOCUMENT_WORDS

# Lower-case words allowed between name words: "Ahmad bin Abdullah", "Ludwig van Beethoven", "Ravi a/l Kumar".
NAME_PARTICLES = frozenset(
    "bin binti bt b. a/l a/p s/o d/o al el van von der den de del della da di du le la dos das do ibn abu ap".split()
)

HONORIFICS = (
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Mdm", "Madam", "Dato'", "Dato", "Datuk",
    "Datin", "Tan Sri", "Puan", "Encik", "Cik", "Tuan", "Herr", "Frau", "Mme", "Mlle", "Monsieur", "Madame",
    "Señor", "Señora", "Shri", "Smt", "Rev", "Capt", "Col", "Sgt", "Lt",
)
