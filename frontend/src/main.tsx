import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { loadConfig } from './api';
import { App } from './App';
import { I18nProvider, translate } from './i18n';
import './styles.css';

const root = createRoot(document.getElementById('root')!);
document.documentElement.lang = localStorage.getItem('atelier.lang') === 'fr' ? 'fr' : 'en';

root.render(
  <p className="loading" role="status">
    {translate('en', 'loading')}
  </p>,
);

loadConfig()
  .then((config) =>
    root.render(
      <StrictMode>
        <I18nProvider>
          <App config={config} />
        </I18nProvider>
      </StrictMode>,
    ),
  )
  .catch((e: unknown) =>
    root.render(
      <main>
        <p role="alert" className="error">
          {translate('en', 'configError', { detail: e instanceof Error ? e.message : String(e) })}
        </p>
      </main>,
    ),
  );
