"""Published ManyPeptidesMD evaluation sequences (specs/flows-and-protocol.md sections 1.2.3-1.2.4).

Source: the ``up_to_8aa`` data config of transferable-samplers, whose lists the ROBIN evaluation
script also uses. Each list has 30 test and 10 validation peptides per length.
"""

from __future__ import annotations

TEST_SEQUENCES: dict[int, tuple[str, ...]] = {
    2: tuple(
        "AA CE CL DG DI FK HL HM IK IM KG LE MQ NA NC PG PY QR RL RT SS TD VF VS WA WH WQ WS YC YQ".split()
    ),
    4: tuple(
        "ARIP CCVH CIPQ DEMT DMTL EHQW FESD FYYY GCDE GDTI GGRS HEAV HQVS HYGW ITYL "
        "KKAP KLLR KRWN NCFG NEVI PQIF QAKR QWNL RLMM SHKS SVND TAPF TMWC VPFY WNMA".split()
    ),
    8: tuple(
        "ANKSMIEA CGSWHKQR CLCCGQWN DDRDTEQT DGVAHALS EKYYWMQT FWRVDHDM GNDLVTVI HWHSLICK IDHRQLKW "
        "IFGWVYTG ISKCKNGE KRRGFFLE MAPQTIAT MRDPVLFA MWNSTEMI MYGRNCYM NHQYGSDP NKEKFFQH NPCLCYML "
        "PGESTAES PLFHVMYV PPWRECNN PYIRNCVE SPHKMRLC SQQKVAFE VWIPVIDT WDLIQFRQ WTYAFAHS YFPHAGYT".split()
    ),
}

VAL_SEQUENCES: dict[int, tuple[str, ...]] = {
    2: tuple("AL EC FT GQ HV ND PF RS WI WY".split()),
    4: tuple("CAVQ CVNR EDWY GNFL ISDT KHAP KHGM LFTE PMWS YRIQ".split()),
    8: tuple("AHKILWHG AMYNLMIR DQNVCCME IVTVAYFP PYTQVRPC QDFKRNIR QTHSSDEF SMFNWLKY TGEAGKSH WCEPGLDW".split()),
}

#: Every published evaluation sequence; the quick-tier training corpus must avoid all of them.
ALL_EVALUATION_SEQUENCES: frozenset[str] = frozenset(
    s for table in (TEST_SEQUENCES, VAL_SEQUENCES) for seqs in table.values() for s in seqs
)
