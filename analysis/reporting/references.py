"""The main text's reference list: every method the text names, cited by number.

References are numbered in the order the text first cites them (the Vancouver style most clinical
journals ask for): :class:`Citations` hands out "[1]", "[2]", ... as the methods are written and
then gives the list in that order, so the numbers in the text and the list cannot disagree.
"""

from __future__ import annotations

from typing import Final

#: Full citations, by the key the text cites them with.
REFERENCES: Final[dict[str, str]] = {
    "scheiner2023": (
        "Scheiner B, Roessler D, Phen S, et al. Efficacy and safety of immune checkpoint "
        "inhibitor rechallenge in individuals with hepatocellular carcinoma. JHEP Reports. "
        "2023;5(1):100620."),
    "hoffman2014": (
        "Hoffman MD, Gelman A. The No-U-Turn sampler: adaptively setting path lengths in "
        "Hamiltonian Monte Carlo. Journal of Machine Learning Research. 2014;15:1593-1623."),
    "vehtari2021": (
        "Vehtari A, Gelman A, Simpson D, Carpenter B, Bürkner PC. Rank-normalization, folding, "
        "and localization: an improved R-hat for assessing convergence of MCMC. Bayesian "
        "Analysis. 2021;16(2):667-718."),
    "betancourt2016": (
        "Betancourt M. Diagnosing suboptimal cotangent disintegrations in Hamiltonian Monte "
        "Carlo. arXiv:1604.00695. 2016."),
    "vehtari2017": (
        "Vehtari A, Gelman A, Gabry J. Practical Bayesian model evaluation using leave-one-out "
        "cross-validation and WAIC. Statistics and Computing. 2017;27(5):1413-1432."),
    "vehtari2024": (
        "Vehtari A, Simpson D, Gelman A, Yao Y, Gabry J. Pareto smoothed importance sampling. "
        "Journal of Machine Learning Research. 2024;25(72):1-58."),
    "kallioinen2023": (
        "Kallioinen N, Paananen T, Bürkner PC, Vehtari A. Detecting and diagnosing prior and "
        "likelihood sensitivity with power-scaling. Statistics and Computing. 2023;34(1):57."),
    "gelman2013": (
        "Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. Bayesian Data Analysis. "
        "3rd ed. Boca Raton: CRC Press; 2013."),
    "neuenschwander2010": (
        "Neuenschwander B, Capkun-Niggli G, Branson M, Spiegelhalter DJ. Summarizing historical "
        "information on controls in clinical trials. Clinical Trials. 2010;7(1):5-18."),
    "schmidli2014": (
        "Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D, Neuenschwander B. "
        "Robust meta-analytic-predictive priors in clinical trials with historical control "
        "information. Biometrics. 2014;70(4):1023-1032."),
    "clopper1934": (
        "Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the "
        "case of the binomial. Biometrika. 1934;26(4):404-413."),
    "kaplan1958": (
        "Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. Journal of "
        "the American Statistical Association. 1958;53(282):457-481."),
    "dale1986": (
        "Dale JR. Global cross-ratio models for bivariate, discrete, ordered responses. "
        "Biometrics. 1986;42(4):909-917."),
    "costa2018": (
        "Costa MJ, Drury T. Bayesian joint modelling of benefit and risk in drug development. "
        "Pharmaceutical Statistics. 2018;17(3):248-263."),
    "lewandowski2009": (
        "Lewandowski D, Kurowicka D, Joe H. Generating random correlation matrices based on "
        "vines and extended onion method. Journal of Multivariate Analysis. "
        "2009;100(9):1989-2001."),
    "collett2015": (
        "Collett D. Modelling Survival Data in Medical Research. 3rd ed. Boca Raton: CRC Press; "
        "2015."),
    "cox1972": (
        "Cox DR. Regression models and life-tables. Journal of the Royal Statistical Society, "
        "Series B. 1972;34(2):187-220."),
    "lin1989": (
        "Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. Journal "
        "of the American Statistical Association. 1989;84(408):1074-1078."),
    "newcombe1998": (
        "Newcombe RG. Improved confidence intervals for the difference between binomial "
        "proportions based on paired data. Statistics in Medicine. 1998;17(22):2635-2650."),
}


class Citations:
    """Numbers references in the order they are first cited.

    Examples
    --------
    >>> c = Citations()
    >>> c.cite("hoffman2014"), c.cite("vehtari2021", "hoffman2014")
    ('[1]', '[2,1]')
    >>> len(c.listed())
    2
    """

    def __init__(self) -> None:
        self._order: list[str] = []

    def cite(self, *keys: str) -> str:
        """The citation mark for ``keys`` ("[1]", "[2,3]"), numbering keys not cited before.

        Raises
        ------
        KeyError
            A key that :data:`REFERENCES` does not hold.
        """
        for key in keys:
            if key not in REFERENCES:
                raise KeyError(f"no reference {key!r}; known: {', '.join(REFERENCES)}")
            if key not in self._order:
                self._order.append(key)
        return "[" + ",".join(str(self._order.index(k) + 1) for k in keys) + "]"

    def listed(self) -> tuple[str, ...]:
        """The full citations cited so far, in citation order (entry *n* is reference [*n*])."""
        return tuple(REFERENCES[key] for key in self._order)
